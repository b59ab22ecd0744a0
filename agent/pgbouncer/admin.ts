import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { DATABASE_ALIAS } from '@aurora-haproxy/contract/patterns';
import pg from 'pg';
import { PgbouncerAdminError } from './errors';

/**
 * PgBouncer's admin console (database "pgbouncer", a user listed in admin_users). RELOAD
 * re-reads pgbouncer.ini and its %include'd [databases] file without dropping clients;
 * RECONNECT <db> closes each pooled server connection of <db> once it is released, so after an
 * HAProxy reload pooled connections move from the old worker to the new one.
 */
export interface PgbouncerAdminTarget {
  /** 127.0.0.1 (TCP) or a directory holding PgBouncer's unix socket. */
  host: string;
  port: number;
  user: string;
  connectTimeoutMs?: number;
}

export class PgbouncerAdmin {
  constructor(readonly target: PgbouncerAdminTarget) {}

  async reload(): Promise<void> {
    await this.run(['RELOAD']);
  }

  /** SHOW DATABASES: every database PgBouncer serves now (its admin db `pgbouncer` included). */
  async showDatabases(): Promise<ShownDatabase[]> {
    const [rows = []] = await this.run(['SHOW DATABASES']);
    return rows.map((row) => ({
      name: String(row.name ?? ''),
      port: Number(row.port),
      database: String(row.database ?? ''),
    }));
  }

  /** SHOW VERSION: e.g. "PgBouncer 1.18.0" -> "1.18.0". */
  async version(): Promise<string> {
    const [rows = []] = await this.run(['SHOW VERSION']);
    const text = String(Object.values(rows[0] ?? {})[0] ?? '');
    const match = /(\d+\.\d+(?:\.\d+)?)/.exec(text);
    if (!match?.[1]) throw new PgbouncerAdminError(`SHOW VERSION answered ${JSON.stringify(text)}`);
    return match[1];
  }

  /** One setting from SHOW CONFIG (e.g. max_prepared_statements -> "200"); undefined: unknown key. */
  async setting(key: string): Promise<string | undefined> {
    const [rows = []] = await this.run(['SHOW CONFIG']);
    const row = rows.find((r) => r.key === key);
    return row === undefined ? undefined : String(row.value ?? '');
  }

  async reconnect(aliases: readonly string[]): Promise<void> {
    for (const alias of aliases) {
      if (!DATABASE_ALIAS.test(alias)) throw new PgbouncerAdminError(`invalid alias ${alias}`);
    }
    if (aliases.length > 0) await this.run(aliases.map((alias) => `RECONNECT ${alias}`));
  }

  /** Run admin commands on one connection (simple query protocol, as the console needs). */
  private async run(commands: readonly string[]): Promise<Record<string, unknown>[][]> {
    const client = new pg.Client({
      host: this.target.host,
      port: this.target.port,
      user: this.target.user,
      database: 'pgbouncer',
      connectionTimeoutMillis: this.target.connectTimeoutMs ?? 3_000,
    });
    // A connection error after connect (console closed) must not crash the agent.
    client.on('error', () => {});
    const where = `${this.target.host}:${this.target.port}`;
    try {
      await client.connect();
    } catch (cause) {
      throw new PgbouncerAdminError(
        `cannot reach the PgBouncer admin console at ${where}: ${errorMessage(cause)}`,
        { cause },
      );
    }
    const results: Record<string, unknown>[][] = [];
    try {
      for (const command of commands) {
        try {
          results.push((await client.query(command)).rows);
        } catch (cause) {
          throw new PgbouncerAdminError(`PgBouncer ${command} failed: ${errorMessage(cause)}`, {
            cause,
          });
        }
      }
    } finally {
      await client.end().catch(() => {});
    }
    return results;
  }
}

export interface ShownDatabase {
  name: string;
  port: number;
  database: string;
}
