import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { RecordingLog } from '@aurora-haproxy/test-support/recording';
import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderUserlist } from '../../../../agent/secrets/userlist';
import { createUserlistRotation } from '../../../../agent/secrets/userlist-rotation';
import type { SecretWatcher } from '../../../../agent/secrets/watcher';
import {
  type AwsStandin,
  startAwsStandin,
} from '../../../../packages/local-stack/aws-standin/aws-standin';
import {
  type LocalPgbouncer,
  postgresUser,
  startLocalPgbouncer,
} from '../../../../packages/local-stack/pgbouncer';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../../packages/local-stack/process/ports';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import { pgbenchInit, startPgbench } from '../../../bench/lib/pgbench';
import { NO_FLEET, secretsClient } from './support';

/**
 * The userlist secret rotated while pgbench runs through the real PgBouncer (1.18 or 1.24,
 * auth_type hba + scram-sha-256 as on an AWS host): the agent's watcher writes the auth_file
 * atomically and RELOADs; pgbench's connections are kept (0 failed transactions), the new
 * password logs in, the old one is refused. A version that does not parse changes nothing.
 */
const SECRET = 'aurora-haproxy/test/userlist';
const OLD = 'old-Pass"word 1';
const NEW = 'new-Pass word;2';

describe('userlist rotation on a real PgBouncer', () => {
  let postgres: PostgresCluster;
  let pgbouncer: LocalPgbouncer;
  let standin: AwsStandin;
  let client: SecretsManagerClient;
  let watcher: SecretWatcher<string>;
  const logs = new RecordingLog();
  const dir = mkdtempSync(join(tmpdir(), 'ah-userlist-'));

  const put = async (value: string) =>
    (await client.send(new PutSecretValueCommand({ SecretId: SECRET, SecretString: value })))
      .VersionId as string;
  const login = async (password: string) => {
    const c = new pg.Client({
      host: pgbouncer.host,
      port: pgbouncer.port,
      user: 'app',
      password,
      database: 'app',
      connectionTimeoutMillis: 5_000,
    });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const { rows } = await c.query<{ one: number }>('SELECT 1 AS one');
      return rows[0]?.one === 1 ? 'accepted' : 'no answer';
    } catch (error) {
      // PgBouncer answers 08P01 "SASL authentication failed" (1.18) or 28P01 (newer).
      return `refused: ${errorMessage(error)}`;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  beforeAll(async () => {
    chmodSync(dir, 0o755);
    postgres = await startPostgresCluster({ replicas: 0 });
    const primary = postgres.primary();
    await postgres.query('primary', 'CREATE ROLE app LOGIN');
    await pgbenchInit(primary.host, primary.port);
    await postgres.query('primary', 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO app');
    standin = await startAwsStandin({ fleet: NO_FLEET, documents: [] });
    standin.secrets.set(SECRET, `"app" "${OLD.replace(/"/g, '""')}"`);
    client = secretsClient(standin);
    const databasesFile = join(dir, 'databases.ini');
    writeFileSync(
      databasesFile,
      `[databases]\napp = host=${primary.host} port=${primary.port} dbname=postgres\n`,
    );
    chmodSync(databasesFile, 0o644);
    pgbouncer = await startLocalPgbouncer({
      dir: join(dir, 'pgbouncer'),
      listenAddress: '127.0.0.1',
      port: await freePort(),
      socketDir: join(dir, 'sockets'),
      databasesFile,
      poolMode: 'transaction',
      // The node serves TLS only: PgBouncer verifies it as a host does (verify-ca).
      serverTls: { caFile: postgres.caFile },
      // As user data writes it at boot: the admin line only until the agent reads the secret.
      userlist: renderUserlist([]),
    });
    watcher = createUserlistRotation(
      { secretId: SECRET, path: pgbouncer.authFile, pollMs: 1_000 },
      { log: logs, admin: pgbouncer.admin, secretsManager: client },
    );
    await watcher.start();
  });
  afterAll(async () => {
    await watcher?.stop();
    client?.destroy();
    await standin?.close();
    await pgbouncer?.stop();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the secret at start: the file becomes its version and PgBouncer takes it', async () => {
    // Act
    const status = watcher.status();
    const result = await login(OLD);

    // Assess
    expect(status).toMatchObject({
      name: 'userlist',
      versionId: standin.secrets.currentVersionId(SECRET),
    });
    expect(status.error).toBeUndefined();
    expect(result).toBe('accepted');
  });

  it('rotates under pgbench: 0 failed transactions, new password accepted, old one refused', async () => {
    // Prepare
    const bench = startPgbench({
      host: pgbouncer.host,
      port: pgbouncer.port,
      database: 'app',
      clients: 4,
      seconds: 120,
      user: 'app',
      password: OLD,
    });
    const { uid, gid } = postgresUser();
    try {
      await waitFor('pgbench to run transactions', async () => {
        const c = new pg.Client({ ...pgbouncer.admin, database: 'pgbouncer' });
        c.on('error', () => undefined); // a dropped socket also rejects the pending call
        await c.connect();
        const { rows } = await c.query('SHOW POOLS').finally(() => c.end());
        return rows.some((r) => r.database === 'app' && Number(r.cl_active) >= 4);
      });

      // Act
      const version = await put(`"app" "${NEW}"`);
      await waitFor(
        'the watcher to use the new version',
        () => watcher.status().versionId === version,
        {
          timeoutMs: 20_000,
          intervalMs: 50,
        },
      );
      const newLogin = await login(NEW);
      const oldLogin = await login(OLD);
      // pgbench keeps running on its connections after the rotation.
      await new Promise((r) => setTimeout(r, 2_000));
      const run = await bench.stop();

      // Assess
      expect(newLogin).toBe('accepted');
      expect(oldLogin).toMatch(/^refused: .*authentication failed/);
      expect(run.failed, run.stderrTail).toBe(0);
      expect(run.abortedClients, run.stderrTail).toBe(0);
      expect(run.processed).toBeGreaterThan(0);
      expect(
        run.perSecond.slice(-2).every((tps) => tps > 0),
        `${run.perSecond}`,
      ).toBe(true);
      const file = statSync(pgbouncer.authFile);
      expect({ uid: file.uid, gid: file.gid, mode: file.mode & 0o777 }).toEqual({
        uid,
        gid,
        mode: 0o640,
      });
      expect(readFileSync(pgbouncer.authFile, 'utf8')).toBe(`"pgbouncer" ""\n"app" "${NEW}"\n`);
    } finally {
      await bench.stop();
    }
  });

  it.each([
    ['a CRLF line', `"app" "x"\r\n`, /line 1 has a carriage return/],
    ['a JSON document', '{"app": "x"}', /line 1 is not "user" "password"/],
    ['the admin user', '"pgbouncer" "x"', /user pgbouncer is PgBouncer's admin console user/],
  ])('a version with %s changes nothing and the status says why', async (_what, value, reason) => {
    // Prepare
    const before = readFileSync(pgbouncer.authFile, 'utf8');
    const inUse = watcher.status().versionId;

    // Act
    const version = await put(value);
    await waitFor(
      'the watcher to see the version',
      () => (watcher.status().error ?? '').includes(version),
      {
        timeoutMs: 20_000,
        intervalMs: 50,
      },
    );

    // Assess
    const status = watcher.status();
    expect(status.versionId).toBe(inUse);
    expect(status.error).toMatch(reason);
    expect(status.error).toMatch(/refused, last good version kept/);
    expect(readFileSync(pgbouncer.authFile, 'utf8')).toBe(before);
    expect(await login(NEW)).toBe('accepted');
  });

  it('never writes a password to its log', () => {
    // Assess
    const text = logs.lines.join('\n');
    expect(logs.lines.length).toBeGreaterThan(0);
    for (const secret of [OLD, NEW, 'Pass']) expect(text).not.toContain(secret);
  });
});
