import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalPgbouncer, startLocalPgbouncer } from '../../../infra/local/pgbouncer';
import { type PostgresCluster, startPostgresCluster } from '../../../infra/local/postgres-cluster';
import { freePort } from '../../../infra/local/process/ports';
import { sleep } from '../../../infra/local/process/wait';
import { instanceIdFor } from '../../../infra/local/rds-standin/simulated-nodes';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { isUp, waitForStatuses } from '../lib/haproxy-stat';
import { type BaselineHost, type OursHost, startBaselineHost, startOursHost } from '../lib/hosts';
import { baselineClusterOf, type ClusterSpec, renderSpecs } from '../lib/ours-stack';
import { pgbenchInit, startPgbench } from '../lib/pgbench';
import { type BenchRow, row } from '../lib/result';

/**
 * Figure 5: how evenly 60 pooled PgBouncer server connections spread over 3 readers. Ours:
 * the rendered balance (leastconn by default); baseline: HAProxy's default roundrobin, as
 * the seed's config had no balance line.
 */
const CONNECTIONS = 60;
const CLUSTER_ID = 'bal';

function spec(pg: PostgresCluster, port: number): ClusterSpec {
  return {
    clusterId: CLUSTER_ID,
    port,
    members: pg.nodes().map((n) => ({
      instanceId: instanceIdFor(CLUSTER_ID, n.name),
      address: n.host,
      port: n.port,
      isWriter: n.role === 'primary',
    })),
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
    const databasesFile = join(dir, 'databases.ini');
    writeFileSync(databasesFile, `[databases]\n${CLUSTER_ID} = port=${port} dbname=postgres\n`);
    const listen = ours.instance.host.listenAddress;
    oursBouncer = await startLocalPgbouncer({
      dir: join(dir, 'pgbouncer'),
      listenAddress: listen,
      port: await freePort(listen),
      socketDir: ours.instance.host.socketDir,
      databasesFile,
      poolMode: 'session',
      defaultPoolSize: CONNECTIONS,
    });
    const oursCounts = await measure(pg, oursBouncer, CLUSTER_ID);
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
    ];
    return {
      status: 'measured',
      rows,
      method: [
        `PostgreSQL primary + 3 replicas. ${CONNECTIONS} pgbench clients (-S, 6 s) through a session-pooling PgBouncer (default_pool_size ${CONNECTIONS}), so each holds one server connection through HAProxy; counted per replica in pg_stat_activity (application_name pgbench) while they run.`,
        "Ours: the rendered config (balance leastconn, the default option). Baseline: the seed-style config, HAProxy's default balance roundrobin.",
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
