import { execFile } from 'node:child_process';
import type { ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import pg from 'pg';
import type { FleetInstance } from './fleet';
import { PG_BIN_DIR } from './postgres-cluster';

/**
 * What the demo and the end-to-end tests measure on the running stack: where reads land
 * (which PostgreSQL node answered, and whether it was in recovery), HAProxy's worker and
 * reload count, PgBouncer server connections per reader, pgbench runs.
 */
const execFileAsync = promisify(execFile);

export interface ReadTarget {
  host: string;
  port: number;
  database: string;
  user?: string;
  /** node-postgres TLS options; plain TCP when absent. */
  ssl?: ConnectionOptions;
}

export interface ReadSample {
  /** When the read started. */
  at: number;
  /** When its answer or error arrived: what a fault that ended it can be ordered by. */
  endedAt: number;
  /** Port of the PostgreSQL node that answered (nodes differ by port on 127.0.0.1). */
  serverPort?: number;
  inRecovery?: boolean;
  error?: string;
}

export const READ_SQL = 'SELECT inet_server_port() AS port, pg_is_in_recovery() AS reader';
/**
 * The same, holding the server connection for 20 ms: concurrent clients then need as many
 * pooled server connections, which is what HAProxy balances (a fast query on one client
 * keeps reusing one pooled connection).
 */
export const SLOW_READ_SQL = `${READ_SQL}, pg_sleep(0.02) AS pause`;

/** One held client; `read()` never throws (errors are samples too). */
export class ReadClient {
  private client: pg.Client | undefined;
  constructor(
    private readonly target: ReadTarget,
    private readonly sql = READ_SQL,
  ) {}

  async read(): Promise<ReadSample> {
    const at = Date.now();
    try {
      if (!this.client) {
        const client = new pg.Client({
          host: this.target.host,
          port: this.target.port,
          database: this.target.database,
          user: this.target.user ?? 'postgres',
          ...(this.target.ssl ? { ssl: this.target.ssl } : {}),
          connectionTimeoutMillis: 3000,
          query_timeout: 3000,
        });
        client.on('error', () => {
          if (this.client === client) this.client = undefined;
        });
        this.client = client;
        await client.connect();
      }
      const result = await this.client.query<{ port: number; reader: boolean }>(this.sql);
      const row = result.rows[0];
      return { at, endedAt: Date.now(), serverPort: row?.port, inRecovery: row?.reader };
    } catch (error) {
      const client = this.client;
      this.client = undefined;
      const endedAt = Date.now();
      await client?.end().catch(() => undefined);
      return { at, endedAt, error: errorMessage(error) };
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/**
 * `queries` reads spread over `clients` concurrent connections (PgBouncer pools server
 * connections, HAProxy balances those: several clients are needed to see the spread).
 */
export async function sampleReads(
  target: ReadTarget,
  queries: number,
  clients = 8,
): Promise<ReadSample[]> {
  const pool = Array.from({ length: clients }, () => new ReadClient(target, SLOW_READ_SQL));
  const samples: ReadSample[] = [];
  let next = 0;
  await Promise.all(
    pool.map(async (client) => {
      while (next < queries) {
        next += 1;
        samples.push(await client.read());
      }
    }),
  );
  await Promise.all(pool.map((c) => c.close()));
  return samples;
}

export interface ReadCounts {
  /** serverPort -> answers. */
  byPort: Map<number, number>;
  /** Answers from a node not in recovery (the writer). */
  fromWriter: number;
  errors: number;
  total: number;
}

export function countReads(samples: readonly ReadSample[]): ReadCounts {
  const byPort = new Map<number, number>();
  let fromWriter = 0;
  let errors = 0;
  for (const s of samples) {
    if (s.error !== undefined || s.serverPort === undefined) {
      errors += 1;
      continue;
    }
    byPort.set(s.serverPort, (byPort.get(s.serverPort) ?? 0) + 1);
    if (s.inRecovery === false) fromWriter += 1;
  }
  return { byPort, fromWriter, errors, total: samples.length };
}

/**
 * Load while something happens: `clients` loops of reads until stop(), every sample kept
 * (time, node, role, error), so a test can say what was answered by whom and when.
 */
export function startReadLoad(
  target: ReadTarget,
  clients = 4,
  options: { pauseMs?: number; sql?: string } = {},
): { stop(): Promise<ReadSample[]> } {
  const pauseMs = options.pauseMs ?? 5;
  const pool = Array.from({ length: clients }, () => new ReadClient(target, options.sql));
  const samples: ReadSample[] = [];
  let running = true;
  const loops = pool.map(async (client) => {
    while (running) {
      const sample = await client.read();
      samples.push(sample);
      await new Promise((r) => setTimeout(r, sample.error ? 50 : pauseMs));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.all(pool.map((c) => c.close()));
      return samples;
    },
  };
}

/** HAProxy master's current worker pid and reload count on an instance. */
export async function haproxyProcess(
  instance: FleetInstance,
): Promise<{ workerPid: number; reloads: number }> {
  if (!instance.haproxy) throw new Error(`${instance.instanceId} has no running HAProxy`);
  const procs = await instance.haproxy.showProc();
  const worker = procs.workers[0];
  if (!worker) throw new Error(`${instance.instanceId}: HAProxy has no worker`);
  return { workerPid: worker.pid, reloads: procs.master.reloads };
}

/** Run one command on a PgBouncer admin console (e.g. RECONNECT, SHOW SERVERS). */
export async function pgbouncerAdmin(
  instance: FleetInstance,
  sql: string,
): Promise<pg.QueryResult> {
  // The unix socket, as the agent does: TCP clients must speak TLS.
  const client = new pg.Client({
    host: instance.host.socketDir,
    port: instance.pgbouncerPort,
    user: 'pgbouncer',
    database: 'pgbouncer',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PgbenchResult {
  code: number;
  transactions: number;
  failed: number;
  tps: number;
  output: string;
}

/** pgbench -S (select-only) through PgBouncer; failed = failed + aborted transactions. */
export async function runPgbench(
  target: ReadTarget,
  options: { clients: number; seconds: number; extraArgs?: string[] },
): Promise<PgbenchResult> {
  const args = [
    '-n',
    '-S',
    '-c',
    String(options.clients),
    '-j',
    '1',
    '-T',
    String(options.seconds),
    '-h',
    target.host,
    '-p',
    String(target.port),
    '-U',
    target.user ?? 'postgres',
    ...(options.extraArgs ?? []),
    target.database,
  ];
  let output: string;
  let code = 0;
  try {
    const { stdout, stderr } = await execFileAsync(`${PG_BIN_DIR}/pgbench`, args, {
      timeout: (options.seconds + 60) * 1000,
    });
    output = stdout + stderr;
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    code = typeof e.code === 'number' ? e.code : 1;
    output = (e.stdout ?? '') + (e.stderr ?? '');
  }
  const num = (re: RegExp) => Number(re.exec(output)?.[1] ?? 0);
  const processed = num(/number of transactions actually processed: (\d+)/);
  const failed = num(/number of failed transactions: (\d+)/);
  const aborted = /aborted in command|client \d+ aborted/.test(output) ? Math.max(1, failed) : 0;
  return {
    code,
    transactions: processed,
    failed: failed + (aborted > failed ? aborted - failed : 0),
    tps: num(/tps = ([\d.]+)/),
    output,
  };
}

/** Servers of a backend as `show stat` reports them: slot -> status (UP, DOWN, MAINT, …). */
export async function backendStatus(
  instance: FleetInstance,
  backend: string,
): Promise<Map<string, string>> {
  if (!instance.haproxy) throw new Error(`${instance.instanceId} has no running HAProxy`);
  const csv = await instance.haproxy.runtime.command('show stat');
  const out = new Map<string, string>();
  for (const line of csv.split('\n')) {
    const fields = line.split(',');
    if (fields[0] !== backend || fields[1] === 'FRONTEND' || fields[1] === 'BACKEND') continue;
    out.set(fields[1] ?? '', fields[17] ?? '');
  }
  return out;
}

/** Check results that mean the last health check passed (tcp-check, external check). */
const PASSED_CHECKS = new Set(['L4OK', 'L6OK', 'L7OK', 'L7OKC', 'PROCOK']);

/** Per server: its status and whether its last health check passed (`show stat`). */
export async function backendChecks(
  instance: FleetInstance,
  backend: string,
): Promise<Map<string, { status: string; checkPassed: boolean }>> {
  if (!instance.haproxy) throw new Error(`${instance.instanceId} has no running HAProxy`);
  const lines = (await instance.haproxy.runtime.command('show stat')).split('\n');
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const statusAt = header.indexOf('status');
  const checkAt = header.indexOf('check_status');
  if (statusAt < 0 || checkAt < 0) throw new Error(`show stat has no status/check_status column`);
  const out = new Map<string, { status: string; checkPassed: boolean }>();
  for (const line of lines.slice(1)) {
    const fields = line.split(',');
    if (fields[0] !== backend || fields[1] === 'FRONTEND' || fields[1] === 'BACKEND') continue;
    out.set(fields[1] ?? '', {
      status: fields[statusAt] ?? '',
      checkPassed: PASSED_CHECKS.has(fields[checkAt]?.replace(/^\* /, '') ?? ''),
    });
  }
  return out;
}

/**
 * Wait until `count` servers of the backend are UP on the instance by a passed health check.
 * UP alone is not enough: HAProxy shows a server of a new backend UP before its first check
 * (right after a reload, or when its name first resolves), and that first check can still
 * take it DOWN.
 */
export async function waitForServersUp(
  instance: FleetInstance,
  backend: string,
  count: number,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const checks = await backendChecks(instance, backend);
    const up = [...checks.values()].filter((s) => s.status === 'UP' && s.checkPassed).length;
    if (up === count) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${instance.instanceId}: ${up} of ${count} servers UP by a passed check in ${backend} (${JSON.stringify(Object.fromEntries(checks))})`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
