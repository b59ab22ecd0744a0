import { azBackendName } from '@aurora-haproxy/contract/az-affinity';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { backendName } from '@aurora-haproxy/contract/names';
import pg from 'pg';
import { OP_STATE } from '../../../agent/haproxy/servers-state';
import type { PgNode } from '../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { type ApplyStack, CLUSTER_ID, startApplyStack } from '../../integration/agent/apply/stack';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { row } from '../lib/result';
import { max, median } from '../lib/stats';

/**
 * AZ affinity (issue 12 item 3): one host in eu-west-1a, one reader in eu-west-1a and one in
 * eu-west-1b (real PostgreSQL replicas), real HAProxy, the health daemon (agent checks) and
 * the agent's apply. The same cluster is served without affinity (baseline: leastconn over
 * both readers, as before this option) and with azAffinity, in the same run.
 * - In-zone share: of N new server connections (each a new connection through the cluster's
 *   listener, so each is one new server connection), the share served by the in-zone reader.
 * - Fallback: the in-zone reader is stopped (pg_ctl -m immediate); new connections are opened
 *   one after another; the time from the stop to the first one served by the other zone's
 *   reader, and the new connections that failed meanwhile. Then it is started again and the
 *   time until a new connection is served in-zone again (ours only).
 */
const CONNECTIONS = Number(process.env.BENCH_AZ_CONNECTIONS ?? 200);
const TRIALS = Number(process.env.BENCH_AZ_TRIALS ?? 5);
const HOST_AZ = 'eu-west-1a';
const BACKEND = backendName(CLUSTER_ID);

interface Fallback {
  ms: number;
  failed: number;
}

async function run(): Promise<BenchOutcome> {
  const stack = await startApplyStack({ replicas: 2, hostAz: HOST_AZ });
  try {
    const [inZone, otherZone] = stack.pg.replicas() as [PgNode, PgNode];
    const zones = new Map([
      [inZone.name, HOST_AZ],
      [otherZone.name, 'eu-west-1b'],
    ]);
    const measure = async (azAffinity: boolean) => {
      const bundle = stack.render([inZone, otherZone], { azAffinity, zones });
      const result = await stack.apply(bundle);
      if (!result.ok) throw new Error(`apply failed: ${result.error}`);
      await serversUp(stack, BACKEND, ['r01', 'r02']);
      if (azAffinity) await serversUp(stack, azBackendName(BACKEND), ['r01']);
      const share = await inZoneShare(stack, inZone, CONNECTIONS);
      const fallbacks: Fallback[] = [];
      const returns: number[] = [];
      for (let i = 0; i < TRIALS; i++) {
        fallbacks.push(await fallback(stack, inZone, otherZone));
        returns.push(await comeBack(stack, inZone, azAffinity));
      }
      return { share, fallbacks, returns };
    };
    const baseline = await measure(false);
    const ours = await measure(true);
    const pct = (n: number) => (100 * n) / CONNECTIONS;
    const fallbackMs = (m: typeof ours) => median(m.fallbacks.map((f) => f.ms));
    const failed = (m: typeof ours) => m.fallbacks.reduce((sum, f) => sum + f.failed, 0);
    return {
      status: 'measured',
      rows: [
        row(
          'new server connections served in the host zone',
          '%',
          pct(baseline.share.on),
          pct(ours.share.on),
          {
            target: '>= 95 % while an in-zone reader passes',
            met: pct(ours.share.on) >= 95,
            headline: true,
            note: `of ${CONNECTIONS} new connections; baseline = the same cluster without azAffinity (leastconn over both zones). Failed: baseline ${baseline.share.failed} (${baseline.share.errors}), ours ${ours.share.failed} (${ours.share.errors}).`,
          },
        ),
        row(
          'stop of the in-zone reader -> first new connection served across zones (median)',
          'ms',
          fallbackMs(baseline),
          fallbackMs(ours),
          {
            target: '<= 1000 ms',
            met: fallbackMs(ours) <= 1000,
            headline: true,
            note: `median of ${TRIALS} stops; max baseline ${max(baseline.fallbacks.map((f) => f.ms)).toFixed(0)} ms, ours ${max(ours.fallbacks.map((f) => f.ms)).toFixed(0)} ms. Baseline already sends about half of its connections across zones, so its first one comes at once.`,
          },
        ),
        row(
          'new connections failed between the stop and the fallback (sum)',
          'connections',
          failed(baseline),
          failed(ours),
          {
            note: `over ${TRIALS} stops, connections opened one after another with a 1 s connect timeout.`,
          },
        ),
        row(
          'start of the in-zone reader -> first new connection served in-zone again (median)',
          'ms',
          null,
          median(ours.returns),
          {
            note: 'baseline: no preference, n/a. Includes PostgreSQL start and HAProxy rise (2 passing checks at 500 ms).',
          },
        ),
      ],
      method: [
        `One simulated host (real HAProxy in master-worker mode, health daemon in agent check mode, the agent's apply) in ${HOST_AZ}; PostgreSQL primary + 2 streaming replicas, the RDS AvailabilityZone of one reader ${HOST_AZ}, of the other eu-west-1b.`,
        'Baseline and ours are the same cluster and processes in the same run: the bundle without azAffinity, then with it (the agent applies each).',
        'A new server connection is one new client connection through the cluster listener (no pooling in between); which reader served it is `current_setting(port)`.',
        'Fallback: `pg_ctl -m immediate stop` of the in-zone reader; new connections one after another (1 s connect timeout) until one is served by the other reader. Return: `pg_ctl start`, then new connections until one is served in-zone.',
      ],
    };
  } finally {
    await stack.stop();
  }
}

async function landOn(stack: ApplyStack, timeoutMs = 1_000): Promise<number> {
  const client = new pg.Client({
    host: stack.config.haproxy.host.listenAddress,
    port: stack.clusterPort,
    user: 'postgres',
    database: 'postgres',
    // The nodes serve TLS only; through HAProxy the chain is checked, not the name.
    ssl: stack.pg.sslThroughProxy(),
    connectionTimeoutMillis: timeoutMs,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ port: string }>("SELECT current_setting('port') AS port");
    return Number(rows[0]?.port);
  } finally {
    await client.end().catch(() => {});
  }
}

async function inZoneShare(stack: ApplyStack, node: PgNode, count: number) {
  let on = 0;
  let failed = 0;
  const errors = new Set<string>();
  for (let i = 0; i < count; i++) {
    try {
      if ((await landOn(stack, 3_000)) === node.port) on++;
    } catch (error) {
      failed++;
      errors.add(errorMessage(error).slice(0, 120));
    }
  }
  return { on, failed, errors: [...errors].join('; ') || 'none' };
}

async function fallback(stack: ApplyStack, stopped: PgNode, other: PgNode): Promise<Fallback> {
  await stack.pg.stopNode(stopped.name);
  const start = performance.now();
  let failed = 0;
  for (;;) {
    try {
      if ((await landOn(stack)) === other.port) return { ms: performance.now() - start, failed };
    } catch {
      failed++;
    }
    if (performance.now() - start > 30_000) throw new Error('no fallback within 30 s');
  }
}

async function comeBack(stack: ApplyStack, node: PgNode, azAffinity: boolean): Promise<number> {
  await stack.pg.startNode(node.name);
  const start = performance.now();
  if (azAffinity) {
    await waitFor(
      'a new connection served in-zone again',
      async () => (await landOn(stack).catch(() => 0)) === node.port,
      { timeoutMs: 30_000, intervalMs: 10 },
    );
  }
  const ms = performance.now() - start;
  await serversUp(stack, BACKEND, ['r01', 'r02']);
  return ms;
}

async function serversUp(stack: ApplyStack, backend: string, slots: string[]): Promise<void> {
  await waitFor(
    `${backend} ${slots.join(', ')} UP`,
    async () => {
      const rows = (await stack.haproxy.runtime.showServersState(backend)).rows;
      return slots.every((s) => rows.find((r) => r.server === s)?.opState === OP_STATE.running);
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

export const azAffinity: Benchmark = {
  name: 'az-affinity',
  figure: 12,
  title: 'AZ affinity: new server connections in the host zone, cross-zone fallback',
  run,
};
