import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandInclude } from '../../../agent/pgbouncer/host-include';
import { type LocalPgbouncer, startLocalPgbouncer } from '../../../packages/local-stack/pgbouncer';
import { freePort } from '../../../packages/local-stack/process/ports';

/**
 * The golden PgBouncer [databases] include as the agent installs it, loaded by the real
 * PgBouncer (1.18 or 1.24): every alias appears with the cluster port, its dbname, and the
 * host's listen address (HAProxy's TCP listener of the cluster: PgBouncer's server TLS needs
 * TCP, it sends no SSLRequest over a unix socket).
 */
const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), 'golden');

describe('golden PgBouncer include in a real PgBouncer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'render-pgbouncer-'));
  let pgbouncer: LocalPgbouncer | undefined;

  beforeAll(async () => {
    // PgBouncer runs as postgres: it must reach the include inside this root-made temp dir.
    chmodSync(dir, 0o755);
    const databasesFile = join(dir, 'databases.ini');
    // As the agent installs it: the host placeholder replaced by the host's listen address.
    writeFileSync(
      databasesFile,
      expandInclude(
        readFileSync(join(GOLDEN, 'three-clusters.pgbouncer-databases.ini'), 'utf8'),
        '127.0.0.1',
      ),
    );
    chmodSync(databasesFile, 0o644);
    pgbouncer = await startLocalPgbouncer({
      dir: join(dir, 'pgbouncer'),
      listenAddress: '127.0.0.1',
      port: await freePort(),
      socketDir: join(dir, 'sockets'),
      databasesFile,
    });
  });

  afterAll(async () => {
    await pgbouncer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists every alias with its cluster port, dbname and the host's HAProxy listen address", async () => {
    // Prepare
    if (!pgbouncer) throw new Error('PgBouncer did not start');
    const client = new pg.Client({ ...pgbouncer.admin, database: 'pgbouncer' });
    client.on('error', () => undefined); // a dropped socket also rejects the pending call
    await client.connect();
    // Act
    const { rows } = await client.query('SHOW DATABASES').finally(() => client.end());
    // Assess
    const ours = rows
      .filter((r) => r.name !== 'pgbouncer')
      .map((r) => ({ name: r.name, host: r.host ?? null, port: Number(r.port), db: r.database }));
    expect(ours).toEqual([
      { name: 'alpha_prod', host: '127.0.0.1', port: 6000, db: 'app' },
      { name: 'mid_prod', host: '127.0.0.1', port: 6002, db: 'app' },
      { name: 'zeta', host: '127.0.0.1', port: 6001, db: 'zeta' },
      { name: 'zeta_reports', host: '127.0.0.1', port: 6001, db: 'reports' },
    ]);
  });
});
