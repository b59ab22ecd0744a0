import pg from 'pg';
import type { PgNode } from '../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { processCa } from '../../../packages/local-stack/tls/local-ca';
import {
  ALIAS,
  type ApplyStack,
  queryThroughPgbouncer,
  startApplyStack,
} from '../../integration/agent/apply/stack';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { pgbenchInit, startPgbench } from '../lib/pgbench';
import { row } from '../lib/result';

/**
 * Pooling per cluster (issue 12 item 2): many clients through one host's PgBouncer alias onto
 * one reader. Baseline: session pooling (the fleet's pool_mode today) with a pool as large as
 * the clients, which is what session mode needs to serve them all; ours: poolMode transaction
 * with a pool of POOL. Same processes, same run, pgbench -S, server connections counted on
 * the reader (pg_stat_activity) while it runs.
 */
const CLIENTS = Number(process.env.BENCH_POOL_CLIENTS ?? 64);
const POOL = Number(process.env.BENCH_POOL_SIZE ?? 8);
const SECONDS = Number(process.env.BENCH_POOL_SECONDS ?? 8);

async function run(): Promise<BenchOutcome> {
  const stack = await startApplyStack({ replicas: 1 });
  try {
    const primary = stack.pg.primary();
    await pgbenchInit(primary.host, primary.port);
    await stack.pg.waitForReplication();
    const reader = stack.pg.replicas()[0] as PgNode;
    const baseline = await measure(stack, reader, { poolMode: 'session', poolSize: CLIENTS });
    const ours = await measure(stack, reader, { poolMode: 'transaction', poolSize: POOL });
    return {
      status: 'measured',
      rows: [
        row(
          `server connections on the reader serving ${CLIENTS} clients (max sampled)`,
          'connections',
          baseline.servers,
          ours.servers,
          {
            headline: true,
            note: `baseline: session mode, pool_size ${CLIENTS}; ours: poolMode transaction, poolSize ${POOL}.`,
          },
        ),
        row('throughput (pgbench -S)', 'tps', baseline.tps, ours.tps, {
          note: `${SECONDS} s, ${CLIENTS} clients, 2 threads, through PgBouncer -> HAProxy -> the reader, on a shared 2-core machine.`,
        }),
        row('failed transactions', 'transactions', baseline.failed, ours.failed),
      ],
      method: [
        'One simulated host (real PgBouncer, HAProxy in master-worker mode, health daemon, the agent applying each bundle); PostgreSQL primary + 1 streaming replica, pgbench tables at scale 1.',
        `Baseline and ours are the same cluster and processes in the same run: the bundle with poolMode session and poolSize ${CLIENTS}, then with poolMode transaction and poolSize ${POOL}; the alias's server connections are closed (KILL/RESUME) between them.`,
        `pgbench -n -S -c ${CLIENTS} -j 2 -T ${SECONDS} through the alias; server connections = pg_stat_activity rows on the reader with application_name pgbench, sampled every 100 ms.`,
      ],
    };
  } finally {
    await stack.stop();
  }
}

async function measure(
  stack: ApplyStack,
  reader: PgNode,
  options: { poolMode: 'session' | 'transaction'; poolSize: number },
) {
  const result = await stack.apply(stack.render([reader], { options }));
  if (!result.ok) throw new Error(`apply failed: ${result.error}`);
  await waitFor('a read through the alias', async () => {
    await queryThroughPgbouncer(stack, 'SELECT 1');
    return true;
  });
  const bench = startPgbench({
    host: stack.pgbouncer.host,
    port: stack.pgbouncer.port,
    database: ALIAS,
    clients: CLIENTS,
    seconds: SECONDS,
  });
  let servers = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      servers = Math.max(servers, await pgbenchSessions(reader));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const done = await bench.done.finally(() => {
    running = false;
  });
  await sampler;
  await admin(stack, [`KILL ${ALIAS}`, `RESUME ${ALIAS}`]);
  return { servers, tps: done.tps, failed: done.failed + done.abortedClients };
}

async function pgbenchSessions(reader: PgNode): Promise<number> {
  const client = new pg.Client({
    host: reader.host,
    port: reader.port,
    user: 'postgres',
    ssl: { ca: processCa().pem(), rejectUnauthorized: true },
  });
  client.on('error', () => undefined); // a dropped socket also rejects the pending call
  await client.connect();
  try {
    const { rows } = await client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgbench'",
    );
    return rows[0].n;
  } finally {
    await client.end();
  }
}

async function admin(stack: ApplyStack, commands: string[]): Promise<void> {
  const client = new pg.Client({ ...stack.pgbouncer.admin, database: 'pgbouncer' });
  client.on('error', () => undefined); // a dropped socket also rejects the pending call
  await client.connect();
  try {
    for (const command of commands) await client.query(command);
  } finally {
    await client.end();
  }
}

export const pooling: Benchmark = {
  name: 'pooling',
  figure: 13,
  title: 'Pooling per cluster: transaction vs session mode under many clients',
  run,
};
