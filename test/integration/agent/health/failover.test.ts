import type { ConnectionOptions } from 'node:tls';
import { silentLog } from '@aurora-haproxy/contract/log';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { installPostgresqlchk } from '../../../../agent/health/postgresqlchk-install';
import type { CheckMode } from '../../../../agent/health/runtime-push';
import { type HealthDaemon, runServe } from '../../../../agent/health/serve';
import type { LocalHaproxy } from '../../../../packages/local-stack/haproxy';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../../packages/local-stack/postgres-cluster';
import { sleep, waitFor } from '../../../../packages/local-stack/process/wait';
import {
  createTestHost,
  freePort,
  healthDaemonOptions,
  registryCluster,
  renderFor,
  serverStat,
  serverStatus,
  startHaproxy,
  writeAppliedBundle,
} from './fixture';

/**
 * Issue #3, integration test 3: promote a replica (the old primary stopped first, as Aurora
 * does): HAProxy marks the promoted server down within 1 s of the promotion, in both check
 * modes, and reads through HAProxy reach only replicas outside the promotion window.
 * The daemon runs with its default probe interval; the measured times are printed.
 */
interface Read {
  at: number;
  inRecovery: boolean;
}

async function readThroughHaproxy(
  address: string,
  port: number,
  ssl: ConnectionOptions,
): Promise<Read | undefined> {
  const client = new pg.Client({
    host: address,
    port,
    ssl,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 1000,
  });
  // The daemon shuts sessions on a server marked down: an idle client may see its
  // connection end between the query and end(), which pg emits as an 'error' event.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const res = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return { at: Date.now(), inRecovery: res.rows[0]?.r === true };
  } catch {
    return undefined; // a failed connect is not a read
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe.each<CheckMode>(['external', 'agent'])('failover with checkMode %s', (checkMode) => {
  let cluster: PostgresCluster | undefined;
  let haproxy: LocalHaproxy | undefined;
  let daemon: HealthDaemon | undefined;

  afterEach(async () => {
    await daemon?.close();
    await haproxy?.stop();
    await cluster?.stop();
  });

  it('marks the promoted replica down within 1 s and keeps reads off the writer', async () => {
    // Prepare: 1 primary + 2 replicas, a rendered bundle, HAProxy on it, the daemon
    cluster = await startPostgresCluster({ replicas: 2 });
    const pgc = cluster;
    const checkPort = await freePort();
    const host = createTestHost(checkPort);
    const clusterPort = await freePort();
    const bundle = renderFor(pgc, registryCluster(clusterPort, { checkMode }));
    writeAppliedBundle(host.stateDir, bundle);
    installPostgresqlchk(host.binDir, 1); // check.conf is rewritten by the daemon (binDir)
    daemon = await runServe(healthDaemonOptions(host, cluster.caFile), { log: silentLog });
    haproxy = await startHaproxy(host, bundle);
    const backend = bundle.clusters[0]?.backend as string;
    const slotOf = (id: string) =>
      bundle.clusters[0]?.servers.find((s) => s.instanceId === id)?.name as string;
    const promoted = slotOf('replica1');
    const other = slotOf('replica2');
    expect(bundle.clusters[0]?.servers.some((s) => s.role === 'writer')).toBe(false);
    // UP by a passing check of the daemon's verdict (HAProxy starts servers UP unchecked)
    const passed = checkMode === 'external' ? 'PROCOK' : 'L7OK';
    await waitFor(
      'both replicas UP in HAProxy after a passing check',
      async () => {
        for (const slot of [promoted, other]) {
          const stat = await serverStat(host, backend, slot);
          if (stat.status !== 'UP' || stat.checkStatus !== passed) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );

    // Sessions held through HAProxy across the failover, as PgBouncer holds its server
    // connections; leastconn spreads them over both replicas.
    const held: pg.Client[] = [];
    for (let i = 0; i < 6; i++) {
      const client = new pg.Client({
        host: host.listenAddress,
        port: clusterPort,
        user: 'postgres',
        database: 'postgres',
        ssl: pgc.sslThroughProxy(),
      });
      client.on('error', () => undefined);
      await client.connect();
      held.push(client);
    }
    const heldPorts = await Promise.all(
      held.map(
        async (c) => (await c.query<{ p: number }>('SELECT inet_server_port() AS p')).rows[0]?.p,
      ),
    );
    expect(heldPorts).toContain(pgc.node('replica1').port);

    // Reads through HAProxy, one new connection each, for the whole failover
    const reads: Read[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const read = await readThroughHaproxy(
          host.listenAddress,
          clusterPort,
          pgc.sslThroughProxy(),
        );
        if (read) reads.push(read);
        await sleep(10);
      }
    })();
    // Enough reads before the promotion to judge (a count, not a fixed sleep: at load each new
    // connection through HAProxy takes 100-200 ms on 2 cores).
    await waitFor('12 reads through HAProxy before the promotion', async () => reads.length >= 12, {
      timeoutMs: 30_000,
      intervalMs: 20,
    });

    // Act: stop the writer, promote replica1, repoint replica2; watch HAProxy. The moment of
    // promotion is when replica1 leaves recovery, polled on a held connection to it
    // (pg_promote() itself returns up to 100 ms later: it polls).
    await pgc.stopNode('primary');
    let leftRecoveryAt: number | undefined;
    const watcher = new pg.Client({
      host: '127.0.0.1',
      port: pgc.node('replica1').port,
      user: 'postgres',
      database: 'postgres',
      ssl: pgc.ssl(),
    });
    watcher.on('error', () => undefined);
    await watcher.connect();
    const watching = (async () => {
      while (leftRecoveryAt === undefined) {
        const r = await watcher.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (r.rows[0]?.r === false) leftRecoveryAt = Date.now();
        else await sleep(5);
      }
    })();
    const promoteStart = Date.now();
    await pgc.promote('replica1');
    const promotedAt = Date.now();
    await watching;
    await watcher.end();
    await waitFor(
      `${backend}/${promoted} DOWN in HAProxy`,
      async () => (await serverStatus(host, backend, promoted)).startsWith('DOWN'),
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    const downAt = Date.now();
    await pgc.repoint('replica1');
    await sleep(300);
    // A held session either ended (it was on the promoted server) or still reads a replica.
    const heldAfter = await Promise.all(
      held.map(async (c) => {
        try {
          return (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r
            ? 'replica'
            : 'WRITER';
        } catch {
          return 'ended';
        }
      }),
    );
    await Promise.all(held.map((c) => c.end().catch(() => undefined)));
    // Keep reading after the verdict until enough reads land on the readers that remain.
    await waitFor(
      '12 reads through HAProxy after the promoted server is DOWN',
      async () => reads.filter((r) => r.at > downAt).length >= 12,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    reading = false;
    await reader;

    // Assess
    const downAfterPromotionMs = downAt - (leftRecoveryAt ?? promoteStart);
    console.log(
      `[${checkMode}] promotion -> ${backend}/${promoted} DOWN in HAProxy: ${downAfterPromotionMs} ms after it left recovery (pg_promote() took ${promotedAt - promoteStart} ms); pushes: ${daemon.pusher?.pushed}`,
    );
    expect(downAfterPromotionMs).toBeLessThan(1000);
    const outsideWindow = reads.filter((r) => r.at < promoteStart || r.at > downAt);
    const inWindow = reads.filter((r) => r.at >= promoteStart && r.at <= downAt);
    console.log(
      `[${checkMode}] reads through HAProxy: ${reads.length}; in the promotion window: ${inWindow.length}, of which on the writer: ${inWindow.filter((r) => !r.inRecovery).length}`,
    );
    expect(outsideWindow.length).toBeGreaterThan(20);
    expect(outsideWindow.filter((r) => !r.inRecovery)).toEqual([]);
    expect(await serverStatus(host, backend, other)).toBe('UP');
    console.log(
      `[${checkMode}] sessions held through HAProxy after the failover: ${heldAfter.join(', ')}`,
    );
    expect(heldAfter).not.toContain('WRITER');
    expect(heldAfter).toContain('ended');
  });
});
