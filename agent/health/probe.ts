import type { Log } from '@aurora-haproxy/contract/log';
import { IPV4 } from '@aurora-haproxy/contract/patterns';
import pg from 'pg';
import { type HostResolver, systemResolver } from '../dns/host-resolver';
import type { CredentialsProvider, ProbeLogin } from './credentials';
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

/**
 * A connection opened with a new credential, proven to answer (make-before-break): `adopt`
 * hands it to the probe loop, which takes it over before its next query and only then closes
 * the old one (never under a query in flight); `discard` closes it.
 */
export interface LoginProof {
  key: string;
  ok: boolean;
  /** The server refused the credential (28P01 / 28000), as opposed to not answering. */
  authRefused: boolean;
  error?: string;
  adopt(): void;
  discard(): void;
}

/** How often a probe of an endpoint name checks that the name still points where it connected. */
export const RESOLVE_EVERY_MS = 5_000;

interface Opened {
  client: pg.Client;
  aurora: boolean;
  /** The IP connected to (the endpoint's address, or what its name resolved to). */
  host: string;
}

export class ServerProbe {
  private client: pg.Client | undefined;
  /** A proven connection with a new credential, taken over at the next probe. */
  private replacement: Opened | undefined;
  /** The IP the held connection goes to, and when the endpoint name was last resolved. */
  private connectedHost: string | undefined;
  private resolvedAt = 0;
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
    private readonly log: Log,
    /** Endpoint names are resolved here (the host's nameserver), HAProxy asks the same one. */
    private readonly resolveHost: HostResolver = systemResolver,
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
    const replacement = this.replacement;
    this.replacement = undefined;
    if (replacement) endClient(replacement.client);
  }

  /** Open a connection with `login` and prove it answers; the caller adopts or discards it. */
  async proveLogin(login: ProbeLogin): Promise<LoginProof> {
    const key = this.endpoint.key;
    let opened: Opened | undefined;
    try {
      opened = await this.open(login);
    } catch (error) {
      const code = (error as { code?: string }).code;
      return {
        key,
        ok: false,
        authRefused: code === '28P01' || code === '28000',
        error: describe(error),
        adopt() {},
        discard() {},
      };
    }
    const proven = opened;
    return {
      key,
      ok: true,
      authRefused: false,
      adopt: () => {
        if (this.stopped) return endClient(proven.client);
        const previous = this.replacement;
        this.replacement = proven;
        if (previous) endClient(previous.client);
      },
      discard: () => endClient(proven.client),
    };
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
    this.takeOverReplacement();
    try {
      await this.followName();
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

  /** Between two probes: the proven new connection replaces the old one, which is closed. */
  private takeOverReplacement(): void {
    const replacement = this.replacement;
    if (!replacement) return;
    this.replacement = undefined;
    this.dropClient();
    this.client = replacement.client;
    this.aurora = replacement.aurora;
    this.connectedHost = replacement.host;
    this.watchErrors(replacement.client);
  }

  private async connect(): Promise<pg.Client> {
    const { address, port } = this.endpoint;
    const login = await this.credentials.login({
      address,
      port,
      database: this.settings.database,
      user: this.settings.user,
    });
    const host = await this.hostToConnect();
    const client = this.newClient(login, host);
    this.watchErrors(client);
    this.client = client;
    this.connectedHost = host;
    this.resolvedAt = Date.now();
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

  /** A connection of its own (not the probe's): connected and asked whether it is Aurora. */
  private async open(login: ProbeLogin): Promise<Opened> {
    const host = await this.hostToConnect();
    const client = this.newClient(login, host);
    // A proven connection that dies before the loop takes it over is simply not taken over.
    client.on('error', () => {
      if (this.replacement?.client === client) this.replacement = undefined;
    });
    try {
      await client.connect();
      const detect = await client.query<{ aurora: boolean }>(DETECT_AURORA_SQL);
      return { client, aurora: detect.rows[0]?.aurora === true, host };
    } catch (error) {
      endClient(client);
      throw error;
    }
  }

  /**
   * The held connection lost (a server that stops ends its sessions at once): probe again
   * now rather than after the interval, so a writer's loss is seen within a reconnect
   * attempt (a writer endpoint is PAUSEd in PgBouncer from that moment, writer-pause.ts).
   */
  private watchErrors(client: pg.Client): void {
    const lost = () => {
      if (this.client !== client) return;
      this.dropClient();
      this.wake?.();
    };
    client.on('error', lost);
    client.on('end', lost);
  }

  /**
   * A name is resolved by this host's resolver and the IP connected to; the TLS options
   * (tls.ts) keep the name as servername, so the certificate is checked against the name.
   */
  private async hostToConnect(): Promise<string> {
    const { address } = this.endpoint;
    return IPV4.test(address) ? address : this.resolveHost(address);
  }

  /**
   * An endpoint name re-pointed to another address (an instance replaced behind its name):
   * the held connection still goes to the old one, so the name is resolved again every
   * RESOLVE_EVERY_MS (Aurora's TTL, HAProxy's `timeout resolve`) and a changed answer drops
   * the connection; the next probe connects to the new address, the one HAProxy follows. A
   * failed lookup keeps the connection (a DNS outage changes no verdict).
   */
  private async followName(): Promise<void> {
    const { address } = this.endpoint;
    if (IPV4.test(address) || !this.client || Date.now() - this.resolvedAt < RESOLVE_EVERY_MS)
      return;
    this.resolvedAt = Date.now();
    try {
      if ((await this.resolveHost(address)) !== this.connectedHost) this.dropClient();
    } catch {
      /* keep the connection */
    }
  }

  private newClient(login: ProbeLogin, host: string): pg.Client {
    const { port } = this.endpoint;
    return new pg.Client({
      host,
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
  }

  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    if (client) endClient(client);
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

/** end() waits for the server; a hung one never answers, so also destroy the socket. */
function endClient(client: pg.Client): void {
  client.end().catch(() => undefined);
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection
    ?.stream;
  setTimeout(() => stream?.destroy(), 100).unref();
}

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const text = e.code && !/^\d/.test(e.code) ? e.code : (e.message ?? String(error));
  return oneLine(text).slice(0, 100);
}
