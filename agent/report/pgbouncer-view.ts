import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { PoolReport } from '@aurora-haproxy/contract/host-report';
import pg from 'pg';
import type { PgbouncerAdminTarget } from '../pgbouncer/admin';
import { HostReportError } from './errors';

/**
 * PgBouncer's version and pool figures from its admin console (`SHOW VERSION`, `SHOW POOLS`),
 * over one connection held between samples (a new connection per sample would cost more than
 * the two queries) and opened again after any error.
 */
export interface PgbouncerFigures {
  version: string | null;
  pools: PoolReport[];
}

const NAME = /^[A-Za-z0-9_-]{1,63}$/;

function count(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? Math.min(Math.trunc(n), 1_000_000_000) : 0;
}

/** SHOW POOLS rows as pool reports; PgBouncer's own console database is left out. */
export function poolReports(rows: readonly Record<string, unknown>[]): PoolReport[] {
  const pools: PoolReport[] = [];
  for (const row of rows) {
    const database = String(row.database ?? '');
    if (database === 'pgbouncer' || !NAME.test(database)) continue;
    pools.push({
      database,
      user: String(row.user ?? '').slice(0, 63),
      clientsActive: count(row.cl_active),
      clientsWaiting: count(row.cl_waiting),
      serversActive: count(row.sv_active),
      serversIdle: count(row.sv_idle),
      maxWaitMs: count(row.maxwait) * 1000 + Math.trunc(count(row.maxwait_us) / 1000),
    });
  }
  return pools.slice(0, 1000);
}

export class PgbouncerView {
  private client: pg.Client | undefined;

  constructor(private readonly target: PgbouncerAdminTarget) {}

  async read(): Promise<PgbouncerFigures> {
    try {
      const client = await this.connected();
      const version = await client.query('SHOW VERSION');
      const pools = await client.query('SHOW POOLS');
      const text = String(Object.values(version.rows[0] ?? {})[0] ?? '');
      return {
        version: text.replace(/^PgBouncer\s+/i, '').slice(0, 80) || null,
        pools: poolReports(pools.rows),
      };
    } catch (cause) {
      await this.close();
      throw new HostReportError(
        `PgBouncer admin console at ${this.target.host}:${this.target.port}: ${errorMessage(cause)}`,
        { cause },
      );
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connected(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      host: this.target.host,
      port: this.target.port,
      user: this.target.user,
      database: 'pgbouncer',
      connectionTimeoutMillis: this.target.connectTimeoutMs ?? 2_000,
    });
    // The console closing the connection later must not crash the daemon.
    client.on('error', () => {
      if (this.client === client) this.client = undefined;
    });
    await client.connect();
    this.client = client;
    return client;
  }
}
