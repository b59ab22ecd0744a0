import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { silentLog } from '@aurora-haproxy/contract/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPostgresqlchk } from '../../../../agent/health/postgresqlchk-install';
import { type HealthDaemon, runServe } from '../../../../agent/health/serve';
import { queryDaemonStatus } from '../../../../agent/health/status-client';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import {
  createTestHost,
  freePort,
  registryCluster,
  renderFor,
  type TestHost,
  writeAppliedBundle,
} from './fixture';

const execFileAsync = promisify(execFile);

/** One line to the check port, one line back. */
async function ask(port: number, line: string): Promise<string> {
  const { createConnection } = await import('node:net');
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(`${line}\n`));
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      text += c;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text.replace(/\n$/, '')));
  });
}

/** Run the real postgresqlchk as HAProxy does: cleared environment, 4 arguments. */
async function postgresqlchk(
  script: string,
  backend: string,
  slot: string,
  addr: string,
  port: number,
) {
  try {
    await execFileAsync(script, ['NOT_USED', 'NOT_USED', addr, String(port)], {
      env: { PATH: '/nonexistent', HAPROXY_PROXY_NAME: backend, HAPROXY_SERVER_NAME: slot },
      timeout: 2000,
    });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

describe('health daemon against a live PostgreSQL primary + 2 replicas', () => {
  let pg: PostgresCluster;
  let host: TestHost;
  let daemon: HealthDaemon;
  let bundle: Bundle;
  let script: string;
  const slotOf = (instanceId: string) => {
    const server = bundle.clusters[0]?.servers.find((s) => s.instanceId === instanceId);
    if (!server) throw new Error(`${instanceId} not in the bundle`);
    return server;
  };
  const backend = () => bundle.clusters[0]?.backend ?? '';

  beforeAll(async () => {
    pg = await startPostgresCluster({ replicas: 2 });
    const checkPort = await freePort();
    host = createTestHost(checkPort);
    bundle = renderFor(
      pg,
      registryCluster(await freePort(), { fallbackToWriter: true, checkMode: 'external' }),
    );
    writeAppliedBundle(host.stateDir, bundle);
    script = installPostgresqlchk(host.binDir, checkPort);
    daemon = await runServe(
      {
        checkPort,
        stateDir: host.stateDir,
        probeIntervalMs: 100,
        freshnessMs: 1000,
        statementTimeoutMs: 300,
        connectTimeoutMs: 500,
        user: 'postgres',
        credentials: { mode: 'none' },
        tls: { mode: 'verify-full', caBundlePath: pg.caFile },
      },
      { log: silentLog },
    );
    await waitFor('every slot to have a probe result', () =>
      daemon.status().slots.every((s) => s.ageMs !== undefined),
    );
  });
  afterAll(async () => {
    await daemon?.close();
    await pg?.stop();
  });

  it('passes the replicas and the writer only in its backup slot', async () => {
    // Prepare
    const r1 = slotOf('replica1');
    const w = slotOf('primary');

    // Act
    const agentReply = await ask(daemon.checkPort, `${backend()}/${r1.name}`);
    const writerReply = await ask(daemon.checkPort, `${backend()}/${w.name}`);
    const status = await queryDaemonStatus(daemon.checkPort);

    // Assess
    expect(w.name).toBe('w1');
    expect(agentReply).toBe('up');
    expect(writerReply).toBe('up');
    expect(status.sha256).toBe(bundle.sha256);
    expect(status.slots.filter((s) => s.pass)).toHaveLength(3);
    expect(status.slots.every((s) => (s.ageMs ?? 99_999) < 1000)).toBe(true);
  });

  it('answers agent-check for unknown and malformed requests with down', async () => {
    // Act
    const spare = await ask(daemon.checkPort, `${backend()}/r04`);
    const bad = await ask(daemon.checkPort, 'hello there');

    // Assess
    expect(spare).toMatch(/^down #unknown slot/);
    expect(bad).toMatch(/^down #bad request/);
  });

  it('postgresqlchk exits 0 for a passing replica, 1 for a failing slot, 1 for a wrong port', async () => {
    // Prepare
    const r2 = slotOf('replica2');

    // Act
    const passing = await postgresqlchk(script, backend(), r2.name, r2.address, r2.port);
    const spare = await postgresqlchk(script, backend(), 'r04', '192.0.2.1', 5432);
    const wrongPort = await postgresqlchk(script, backend(), r2.name, r2.address, r2.port + 1);

    // Assess
    expect(passing).toBe(0);
    expect(spare).toBe(1);
    expect(wrongPort).toBe(1);
  });

  it('fails a hung replica within the statement timeout, and passes it again when it answers', async () => {
    // Prepare
    const r2 = slotOf('replica2');
    const key = `${backend()}/${r2.name}`;

    // Act: freeze the replica (postmaster and backends; TCP connects still succeed)
    pg.freeze('replica2');
    let failedAfterMs: number;
    const t0 = Date.now();
    try {
      await waitFor(
        'the hung replica to fail',
        async () => (await ask(daemon.checkPort, key)).startsWith('down'),
        {
          timeoutMs: 5000,
          intervalMs: 20,
        },
      );
      failedAfterMs = Date.now() - t0;
    } finally {
      pg.thaw('replica2');
    }
    await waitFor(
      'the replica to pass again',
      async () => (await ask(daemon.checkPort, key)) === 'up',
      {
        timeoutMs: 10_000,
      },
    );

    // Assess: statement timeout 300 ms + client bound 200 ms + probe interval, well under 2 s
    expect(failedAfterMs).toBeLessThan(2000);
  });

  it('follows a new applied bundle: a removed reader becomes an unknown slot', async () => {
    // Prepare
    const r1 = slotOf('replica1');
    const next = renderFor(
      {
        ...pg,
        nodes: () => pg.nodes().filter((n) => n.name !== 'replica1'),
      } as PostgresCluster,
      registryCluster(bundle.clusters[0]?.port ?? 0, {
        fallbackToWriter: true,
        checkMode: 'external',
      }),
      bundle,
    );

    // Act
    writeAppliedBundle(host.stateDir, next);
    const t0 = Date.now();
    await waitFor(
      'the daemon to load the new bundle by itself',
      () => daemon.status().sha256 === next.sha256,
      {
        timeoutMs: 2000,
        intervalMs: 5,
      },
    );
    const loadedAfterMs = Date.now() - t0;
    const reply = await ask(daemon.checkPort, `${backend()}/${r1.name}`);

    // Assess
    expect(loadedAfterMs).toBeLessThan(1000);
    expect(reply).toMatch(/^down #unknown slot/);
  });

  it('postgresqlchk fails (exit 3) when the daemon is unreachable', async () => {
    // Prepare: a bin dir whose check.conf names a port nobody listens on
    const deadPort = await freePort();
    const deadBin = join(host.dir, 'dead-bin');
    const deadScript = installPostgresqlchk(deadBin, deadPort);
    writeFileSync(join(deadBin, 'note'), 'daemon not running');
    const r2 = slotOf('replica2');

    // Act
    const code = await postgresqlchk(deadScript, backend(), r2.name, r2.address, r2.port);

    // Assess
    expect(code).toBe(3);
  });

  it('reads role and lag from aurora_replica_status() when the server has it (emulated)', async () => {
    // Prepare: Aurora's two functions, emulated on the primary and replicated: this
    // instance's row (server_id = aurora_db_instance_identifier()) says MASTER_SESSION_ID
    // although the server is in recovery, so only the Aurora path can fail it.
    const r2 = slotOf('replica2');
    const key = `${backend()}/${r2.name}`;
    const id = `db-${r2.port}`;
    await pg.query(
      'primary',
      'CREATE TABLE fake_aurora (server_id text, session_id text, replica_lag_in_msec float8)',
    );
    await pg.query(
      'primary',
      "CREATE FUNCTION aurora_db_instance_identifier() RETURNS text LANGUAGE sql AS $$ SELECT 'db-' || inet_server_port() $$",
    );
    await pg.query(
      'primary',
      'CREATE FUNCTION aurora_replica_status() RETURNS SETOF fake_aurora LANGUAGE sql AS $$ SELECT * FROM fake_aurora $$',
    );
    await pg.query('primary', "INSERT INTO fake_aurora VALUES ($1, 'MASTER_SESSION_ID', NULL)", [
      id,
    ]);
    await pg.waitForReplication();

    // Act: the probe detects Aurora when it connects, so end its connection
    await pg.query(
      'replica2',
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'aurora-haproxy-health'",
    );
    await waitFor(
      'the Aurora writer verdict',
      async () => (await ask(daemon.checkPort, key)) === 'down #is the writer',
    );
    await pg.query(
      'primary',
      "UPDATE fake_aurora SET session_id = 'c0ffee', replica_lag_in_msec = 42",
    );
    await pg.waitForReplication();
    await waitFor(
      'the Aurora reader verdict',
      async () => (await ask(daemon.checkPort, key)) === 'up',
    );

    // Assess
    expect(daemon.monitor.latestProbe(`${r2.address}:${r2.port}`)).toMatchObject({
      connected: true,
      inRecovery: true,
      isAuroraWriter: false,
      lagMs: 42,
    });
  });
});
