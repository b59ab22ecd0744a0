import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type LocalPgbouncer, startLocalPgbouncer } from '../../../packages/local-stack/pgbouncer';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../packages/local-stack/process/ports';
import { sleep } from '../../../packages/local-stack/process/wait';
import { processCa } from '../../../packages/local-stack/tls/local-ca';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { isUp, waitForStatuses } from '../lib/haproxy-stat';
import { type BaselineHost, type OursHost, startBaselineHost, startOursHost } from '../lib/hosts';
import { baselineClusterOf, type ClusterSpec, renderSpecs, specMembers } from '../lib/ours-stack';
import { pgbenchInit, startPgbench } from '../lib/pgbench';
import { type BenchRow, row } from '../lib/result';

/**
 * Figure 5: how evenly 60 pooled PgBouncer server connections spread over 3 readers. Ours:
 * the rendered balance (leastconn by default); baseline: HAProxy's default roundrobin, as
 * the seed's config had no balance line.
 */
const CONNECTIONS = 60;
const CLUSTER_ID = 'bal';

function spec(pg: PostgresCluster, port: number, withThird = true): ClusterSpec {
  const third = pg.replicas()[2]?.name;
  return {
    clusterId: CLUSTER_ID,
    port,
    members: specMembers(CLUSTER_ID, pg, withThird ? undefined : third),
  };
}

async function perReader(pg: PostgresCluster): Promise<number[]> {
  const counts: number[] = [];
  for (const r of pg.replicas()) {
    const q = await pg.query<{ n: string }>(
      r.name,
      "SELECT count(*)::text AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name = 'pgbench'",
    );
    counts.push(Number(q.rows[0]?.n ?? 0));
  }
  return counts;
}

/** Hold 60 pgbench sessions through a session-pooling PgBouncer and count them per reader. */
async function measure(
  pg: PostgresCluster,
  bouncer: { host: string; port: number },
  database: string,
): Promise<number[]> {
  const bench = startPgbench({ ...bouncer, database, clients: CONNECTIONS, seconds: 6 });
  let counts: number[] = [];
  for (let i = 0; i < 20; i++) {
    await sleep(250);
    counts = await perReader(pg);
    if (counts.reduce((a, b) => a + b, 0) >= CONNECTIONS) break;
  }
  const run = await bench.done;
  if (run.abortedClients) throw new Error(`pgbench clients aborted: ${run.stderrTail}`);
  return counts;
}

const HELD = 40;
const JOINED = 20;

/**
 * A reader joins while 40 sessions are held on the other two, then 20 more sessions open:
 * where do the new ones go? `join` applies the change on the side measured and waits until
 * HAProxy serves the new reader.
 */
async function joinScenario(
  pg: PostgresCluster,
  bouncer: { host: string; port: number },
  database: string,
  join: () => Promise<void>,
): Promise<{ readers: number[]; writer: number }> {
  // Start from an empty pool: idle server connections of the phase before would be reused.
  await reconnectPool(bouncer, database);
  const held = startPgbench({ ...bouncer, database, clients: HELD, seconds: 120 });
  try {
    for (let i = 0; i < 40; i++) {
      await sleep(250);
      if ((await perReader(pg)).reduce((a, b) => a + b, 0) >= HELD) break;
    }
    if (process.env.BENCH_DEBUG)
      process.stdout.write(`   held: ${(await perReader(pg)).join('/')}\n`);
    await join();
    if (process.env.BENCH_DEBUG)
      process.stdout.write(`   after join: ${(await perReader(pg)).join('/')}\n`);
    const more = startPgbench({ ...bouncer, database, clients: JOINED, seconds: 4 });
    let readers: number[] = [];
    for (let i = 0; i < 16; i++) {
      await sleep(250);
      readers = await perReader(pg);
      if (readers.reduce((a, b) => a + b, 0) >= HELD + JOINED) break;
    }
    const writer = await writerSessions(pg);
    await more.done;
    return { readers, writer };
  } finally {
    await held.stop();
  }
}

/** PgBouncer admin console: RECONNECT closes the database's idle server connections now. */
async function reconnectPool(
  bouncer: { host: string; port: number },
  database: string,
): Promise<void> {
  const admin = new pg.Client({
    host: bouncer.host,
    port: bouncer.port,
    user: 'pgbouncer',
    database: 'pgbouncer',
  });
  admin.on('error', () => {});
  await admin.connect();
  try {
    await admin.query(`RECONNECT ${database}`);
  } finally {
    await admin.end().catch(() => {});
  }
  await sleep(500);
}

async function writerSessions(pg: PostgresCluster): Promise<number> {
  const q = await pg.query<{ n: string }>(
    'primary',
    "SELECT count(*)::text AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name = 'pgbench'",
  );
  return Number(q.rows[0]?.n ?? 0);
}

async function run(): Promise<BenchOutcome> {
  const pg = await startPostgresCluster({ replicas: 3 });
  let ours: OursHost | undefined;
  let oursBouncer: LocalPgbouncer | undefined;
  let base: BaselineHost | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-balance-'));
  chmodSync(dir, 0o755);
  try {
    await pgbenchInit(pg.primary().host, pg.primary().port);
    await pg.waitForReplication();
    const port = await freePort();
    ours = await startOursHost();
    const bundle = renderSpecs([spec(pg, port)]);
    const applied = await ours.apply(bundle);
    if (!applied.result.ok) throw new Error(`ours apply failed: ${applied.result.error}`);
    const c = bundle.clusters[0];
    await waitForStatuses(
      ours.haproxy,
      new Map(c?.servers.map((s) => [`${c.backend}/${s.name}`, isUp])),
    );
    // A session-pooling PgBouncer beside the host's own, so 60 clients hold 60 server connections.
    // TCP to HAProxy (not its unix socket): PgBouncer's server TLS reaches the TLS-only nodes.
    const listen = ours.instance.host.listenAddress;
    const databasesFile = join(dir, 'databases.ini');
    writeFileSync(
      databasesFile,
      `[databases]\n${CLUSTER_ID} = host=${listen} port=${port} dbname=postgres\n`,
    );
    oursBouncer = await startLocalPgbouncer({
      dir: join(dir, 'pgbouncer'),
      listenAddress: listen,
      port: await freePort(listen),
      socketDir: ours.instance.host.socketDir,
      databasesFile,
      poolMode: 'session',
      defaultPoolSize: CONNECTIONS,
      serverTls: { caFile: processCa().caFile },
    });
    const oursCounts = await measure(pg, oursBouncer, CLUSTER_ID);
    const oursHost = ours;
    let previous = renderSpecs([spec(pg, port, false)], bundle);
    const removed = await oursHost.apply(previous);
    if (!removed.result.ok) throw new Error(`ours apply failed: ${removed.result.error}`);
    await sleep(500);
    const oursJoin = await joinScenario(pg, oursBouncer, CLUSTER_ID, async () => {
      previous = renderSpecs([spec(pg, port, true)], previous);
      const added = await oursHost.apply(previous);
      if (!added.result.ok) throw new Error(`ours apply failed: ${added.result.error}`);
      const cl = previous.clusters[0];
      await waitForStatuses(
        oursHost.haproxy,
        new Map(cl?.servers.map((x) => [`${cl.backend}/${x.name}`, isUp])),
      );
    });
    await oursBouncer.stop();
    oursBouncer = undefined;
    await ours.stop();
    ours = undefined;

    const baseCluster = baselineClusterOf(spec(pg, port), { includeWriter: true });
    base = await startBaselineHost([baseCluster], { poolMode: 'session', poolSize: CONNECTIONS });
    await waitForStatuses(
      base.haproxy,
      new Map(
        spec(pg, port).members.map((m) => [
          `${baseCluster.name}/${m.instanceId}`,
          m.isWriter ? (s: string) => s.startsWith('DOWN') : isUp,
        ]),
      ),
      30_000,
    );
    const baseCounts = await measure(pg, base.pgbouncer, baseCluster.name);
    const baseHost = base;
    const baseStatuses = (withThird: boolean) =>
      new Map(
        spec(pg, port, withThird).members.map((m) => [
          `${baseCluster.name}/${m.instanceId}`,
          m.isWriter ? (x: string) => x.startsWith('DOWN') : isUp,
        ]),
      );
    await baseHost.rewriteAndReload([
      baselineClusterOf(spec(pg, port, false), { includeWriter: true }),
    ]);
    await waitForStatuses(baseHost.haproxy, baseStatuses(false), 30_000);
    const baseJoin = await joinScenario(pg, baseHost.pgbouncer, baseCluster.name, async () => {
      await baseHost.rewriteAndReload([
        baselineClusterOf(spec(pg, port, true), { includeWriter: true }),
      ]);
      // Wait until the reloaded worker has marked the writer down again (no state file), so
      // the comparison is about balance, not about the writer taking reads.
      await waitForStatuses(baseHost.haproxy, baseStatuses(true), 30_000);
    });
    const ratio = (xs: number[]) => Math.max(...xs) / Math.max(1, Math.min(...xs));
    const rows: BenchRow[] = [
      row(
        'server connections per reader, max / min',
        'ratio',
        ratio(baseCounts),
        ratio(oursCounts),
        {
          target: '≤ 1.2',
          met: ratio(oursCounts) <= 1.2,
          note: `per reader: baseline ${baseCounts.join('/')}, ours ${oursCounts.join('/')}`,
          headline: true,
        },
      ),
      row(
        'server connections counted on the readers',
        'conn',
        baseCounts.reduce((a, b) => a + b, 0),
        oursCounts.reduce((a, b) => a + b, 0),
      ),
      row(
        `after a reader joins: server connections per reader, max / min (${HELD} held + ${JOINED} new)`,
        'ratio',
        ratio(baseJoin.readers),
        ratio(oursJoin.readers),
        {
          note: `per reader (the joined one last): baseline ${baseJoin.readers.join('/')}, ours ${oursJoin.readers.join('/')}; on the writer: baseline ${baseJoin.writer}, ours ${oursJoin.writer}`,
        },
      ),
    ];
    return {
      status: 'measured',
      rows,
      method: [
        `PostgreSQL primary + 3 replicas. ${CONNECTIONS} pgbench clients (-S, 6 s) through a session-pooling PgBouncer (default_pool_size ${CONNECTIONS}), so each holds one server connection through HAProxy; counted per replica in pg_stat_activity (application_name pgbench) while they run.`,
        "Ours: the rendered config (balance leastconn, the default option). Baseline: the seed-style config, HAProxy's default balance roundrobin.",
        `Reader joins: with replica3 out of the config, ${HELD} sessions are held (pgbench), replica3 is added (ours: agent apply, runtime path; baseline: rewrite + reload, then wait until its new worker has marked the writer down again), then ${JOINED} more sessions open; counted per replica while all run. Each side's PgBouncer pool is emptied first (RECONNECT), so no idle server connection of the steady-state phase is reused.`,
      ],
    };
  } finally {
    await oursBouncer?.stop();
    await ours?.stop();
    await base?.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const balance: Benchmark = {
  name: 'balance',
  figure: 5,
  title: 'Balance',
  run,
};
