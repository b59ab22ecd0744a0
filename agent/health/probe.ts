import pg from 'pg';
import type { CredentialsProvider } from './credentials';
import type { HealthLogger } from './log';
import {
  AURORA_PROBE_SQL,
  DETECT_AURORA_SQL,
  type ProbeRow,
  readProbeRow,
  VANILLA_PROBE_SQL,
} from './probe-query';
import type { PgSsl } from './tls';
import { oneLine, type ProbeResult } from './verdict';

/**
 * One server's probe loop: one long-lived connection (a new one costs ~28 ms and a backend
 * process on the server; the seed forked psql per check per host), a query every
 * `intervalMs` +-20% (jitter keeps many hosts from probing in lockstep), reconnect with
 * exponential backoff. Connect and statement timeouts make a hung server fail fast: a
 * query that does not answer within statementTimeoutMs fails the probe and the connection
 * is thrown away (a hung socket would otherwise stall every later probe).
 */
export interface ProbeSettings {
  intervalMs: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  database: string;
  user: string;
}

export interface ProbeEndpoint {
  key: string;
  address: string;
  port: number;
}

export class ServerProbe {
  private client: pg.Client | undefined;
  private aurora = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private backoffMs: number;
  private last: ProbeResult | undefined;
  private lastError: string | undefined;

  constructor(
    readonly endpoint: ProbeEndpoint,
    private readonly settings: ProbeSettings,
    private readonly credentials: CredentialsProvider,
    private readonly ssl: PgSsl,
    private readonly onResult: (endpoint: ProbeEndpoint, result: ProbeResult) => void,
    private readonly log: HealthLogger,
  ) {
    this.backoffMs = settings.reconnectMinMs;
  }

  latest(): ProbeResult | undefined {
    return this.last;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loop;
    this.dropClient();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const result = await this.probeOnce();
      if (this.stopped) break;
      this.record(result);
      let delay: number;
      if (result.connected) {
        this.backoffMs = this.settings.reconnectMinMs;
        delay = jitter(this.settings.intervalMs);
      } else {
        delay = Math.min(this.backoffMs, this.settings.reconnectMaxMs);
        this.backoffMs = Math.min(this.backoffMs * 2, this.settings.reconnectMaxMs);
      }
      await this.sleep(delay);
    }
  }

  private async probeOnce(): Promise<ProbeResult> {
    try {
      const client = this.client ?? (await this.connect());
      const sql = this.aurora ? AURORA_PROBE_SQL : VANILLA_PROBE_SQL;
      const res = await client.query<ProbeRow>(sql);
      return { ...readProbeRow(res.rows[0], this.aurora), observedAt: Date.now() };
    } catch (error) {
      this.dropClient();
      const err = error as { code?: string; message?: string };
      // 28P01/28000: authentication refused: the cached password or token may be stale.
      if (err.code === '28P01' || err.code === '28000') this.credentials.invalidate();
      return { connected: false, error: describe(error), observedAt: Date.now() };
    }
  }

  private async connect(): Promise<pg.Client> {
    const { address, port } = this.endpoint;
    const login = await this.credentials.login({
      address,
      port,
      database: this.settings.database,
      user: this.settings.user,
    });
    const client = new pg.Client({
      host: address,
      port,
      database: this.settings.database,
      user: login.user,
      password: login.password,
      ssl: this.ssl,
      application_name: 'aurora-haproxy-health',
      connectionTimeoutMillis: this.settings.connectTimeoutMs,
      statement_timeout: this.settings.statementTimeoutMs,
      // Client-side bound too: a server that stops answering entirely never sends the
      // statement_timeout error.
      query_timeout: this.settings.statementTimeoutMs + 200,
      keepAlive: true,
    });
    client.on('error', () => {
      if (this.client === client) this.dropClient();
    });
    this.client = client;
    try {
      await client.connect();
      const detect = await client.query<{ aurora: boolean }>(DETECT_AURORA_SQL);
      this.aurora = detect.rows[0]?.aurora === true;
    } catch (error) {
      this.dropClient();
      throw error;
    }
    return client;
  }

  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // end() waits for the server; a hung one never answers, so also destroy the socket.
    client.end().catch(() => undefined);
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } })
      .connection?.stream;
    setTimeout(() => stream?.destroy(), 100).unref();
  }

  private record(result: ProbeResult): void {
    const error = result.connected ? undefined : result.error;
    if (error !== this.lastError) {
      if (error) this.log.warn('probe failing', { server: this.endpoint.key, error });
      else this.log.info('probe recovered', { server: this.endpoint.key });
      this.lastError = error;
    }
    this.last = result;
    this.onResult(this.endpoint, result);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }
}

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const text = e.code && !/^\d/.test(e.code) ? e.code : (e.message ?? String(error));
  return oneLine(text).slice(0, 100);
}
