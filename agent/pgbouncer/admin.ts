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
    for (const alias of aliases) checkAlias(alias);
    if (aliases.length > 0) await this.run(aliases.map((alias) => `RECONNECT ${alias}`));
  }

  /**
   * PAUSE <alias>: PgBouncer holds the alias's clients and logs in to no server until RESUME.
   * The alias is paused as soon as PgBouncer reads the command; its answer waits until the
   * alias's active server connections are released, which this waits for at most
   * `replyTimeoutMs` (then closes the console connection: the alias stays paused). Returns
   * whether the answer came. PAUSE of a paused alias is answered like the first.
   */
  async pause(alias: string, replyTimeoutMs: number): Promise<boolean> {
    checkAlias(alias);
    try {
      await this.run([`PAUSE ${alias}`], replyTimeoutMs);
      return true;
    } catch (error) {
      if (error instanceof PgbouncerAdminError && error.replyTimedOut) return false;
      throw error;
    }
  }

  /**
   * RESUME <alias>. Returns false when there was nothing to resume (the alias is not paused,
   * or PgBouncer no longer serves it): the outcome wanted either way.
   */
  async resume(alias: string): Promise<boolean> {
    checkAlias(alias);
    try {
      await this.run([`RESUME ${alias}`]);
      return true;
    } catch (error) {
      const message = errorMessage(error);
      if (/is not paused|no such database/.test(message)) return false;
      throw error;
    }
  }

  /** SHOW DATABASES' paused column of one alias (undefined: not served). */
  async paused(alias: string): Promise<boolean | undefined> {
    const [rows = []] = await this.run(['SHOW DATABASES']);
    const row = rows.find((r) => r.name === alias);
    return row === undefined ? undefined : Number(row.paused) === 1;
  }

  /** Run admin commands on one connection (simple query protocol, as the console needs). */
  private async run(
    commands: readonly string[],
    replyTimeoutMs?: number,
  ): Promise<Record<string, unknown>[][]> {
    const client = new pg.Client({
      host: this.target.host,
      port: this.target.port,
      user: this.target.user,
      database: 'pgbouncer',
      connectionTimeoutMillis: this.target.connectTimeoutMs ?? 3_000,
      ...(replyTimeoutMs === undefined ? {} : { query_timeout: replyTimeoutMs }),
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
          const message = errorMessage(cause);
          const error = new PgbouncerAdminError(`PgBouncer ${command} failed: ${message}`, {
            cause,
          });
          // node-postgres' client-side query_timeout.
          error.replyTimedOut = replyTimeoutMs !== undefined && /Query read timeout/.test(message);
          throw error;
        }
      }
    } finally {
      await client.end().catch(() => {});
    }
    return results;
  }
}

function checkAlias(alias: string): void {
  if (!DATABASE_ALIAS.test(alias)) throw new PgbouncerAdminError(`invalid alias ${alias}`);
}

export interface ShownDatabase {
  name: string;
  port: number;
  database: string;
}
