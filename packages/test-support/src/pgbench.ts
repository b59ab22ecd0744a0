import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PG_BIN_DIR } from '../../local-stack/postgres-cluster';

export interface PgbenchInitTarget {
  host: string;
  port: number;
  /** The database the tables go in. */
  database: string;
  /** Extra environment (PGSSLMODE, PGSSLROOTCERT … when the node takes TLS only). */
  env?: NodeJS.ProcessEnv;
}

/**
 * pgbench's tables (`pgbench -i -s 1 -q`, as user postgres) on a primary; bounded by 60 s.
 * The caller waits for replication when readers must have them.
 */
export async function initPgbenchTables(target: PgbenchInitTarget): Promise<void> {
  await promisify(execFile)(
    join(PG_BIN_DIR, 'pgbench'),
    ['-i', '-s', '1', '-q', '-h', target.host, '-p', String(target.port), '-U', 'postgres'].concat(
      target.database,
    ),
    { env: { ...process.env, ...target.env }, timeout: 60_000 },
  );
}
