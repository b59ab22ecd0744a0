import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { backendName } from '@aurora-haproxy/contract/names';
import pg from 'pg';
import { passedCheck } from '../../../agent/haproxy/servers-state';
import type { PgNode } from '../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { type ApplyStack, CLUSTER_ID, startApplyStack } from '../../integration/agent/apply/stack';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { row } from '../lib/result';

/**
 * Slow start (issue 12 item 4): a steady stream of new server connections (as PgBouncer's
 * pools open them) through one cluster's HAProxy listener onto reader A; reader B then joins
 * (the agent fills a spare slot through the runtime API). Measured: the connections B takes in
 * its first seconds after its slot passes its check. Baseline: no slowStartMs (as before the
 * option: leastconn sends B every new connection until it has as many as A); ours:
 * slowStartMs SLOW_START_MS. Same processes, same run.
 */
const SLOW_START_MS = Number(process.env.BENCH_SLOWSTART_MS ?? 10_000);
const EVERY_MS = Number(process.env.BENCH_SLOWSTART_EVERY_MS ?? 100);
const HOLD_MS = Number(process.env.BENCH_SLOWSTART_HOLD_MS ?? 3_000);
const WARM_MS = 3_000;
const WINDOW_S = 6;
const BACKEND = backendName(CLUSTER_ID);

interface Opened {
  at: number;
  port: number;
}

async function run(): Promise<BenchOutcome> {
  const stack = await startApplyStack({ replicas: 2 });
  try {
    const [a, b] = stack.pg.replicas() as [PgNode, PgNode];
    const baseline = await measure(stack, a, b, 0);
    const ours = await measure(stack, a, b, SLOW_START_MS);
    const rows = [
      row(
        'new connections the joining reader takes in its first second',
        '% of new',
        baseline.sharePerSecond[0] ?? null,
        ours.sharePerSecond[0] ?? null,
        {
          headline: true,
          note: `a new connection every ${EVERY_MS} ms, each held ${HOLD_MS} ms (about ${Math.round(HOLD_MS / EVERY_MS)} open); leastconn; ours slowStartMs ${SLOW_START_MS}.`,
        },
      ),
      ...[1, 2, 3, 5].map((s) =>
        row(
          `new connections to the joining reader, second ${s + 1}`,
          '% of new',
          baseline.sharePerSecond[s] ?? null,
          ours.sharePerSecond[s] ?? null,
        ),
      ),
      ...[1, 3, 6].map((s) =>
        row(
          `connections open on the joining reader ${s} s after it passed`,
          'connections',
          baseline.openAt[s - 1] ?? null,
          ours.openAt[s - 1] ?? null,
        ),
      ),
      row('new connections failed', 'connections', baseline.failed, ours.failed, {
        note: `first failure at ${baseline.firstFailure} s / ${ours.firstFailure} s from time 0 (baseline / ours); reasons: ${baseline.reasons || '-'} / ${ours.reasons || '-'}`,
      }),
    ];
    return {
      status: 'measured',
      rows,
      method: [
        'One simulated host (real HAProxy in master-worker mode, health daemon in agent check mode, the agent applying each bundle); PostgreSQL primary + 2 streaming replicas A and B.',
        `A load loop opens a new connection through the cluster's HAProxy listener every ${EVERY_MS} ms (what PgBouncer does when its pools grow or reconnect) and closes each after ${HOLD_MS} ms; which reader served it is current_setting('port').`,
        `After ${WARM_MS} ms on A alone the bundle with A and B is applied (B fills a spare slot through the runtime API, no reload). Time 0 is when B's slot passes its check (show servers state: running, or starting while it ramps); shares are over 1-s windows after it.`,
        `Baseline and ours are the same cluster and processes in the same run: without slowStartMs, then with slowStartMs ${SLOW_START_MS}; B is taken out again between them.`,
      ],
    };
  } finally {
    await stack.stop();
  }
}

async function measure(stack: ApplyStack, a: PgNode, b: PgNode, slowStartMs: number) {
  const options = slowStartMs > 0 ? { slowStartMs } : {};
  const alone = await applied(stack, stack.render([a], { options }));
  const opened: Opened[] = [];
  let failed = 0;
  const failures: { at: number; message: string }[] = [];
  let running = true;
  const pending = new Set<Promise<void>>();
  const loop = (async () => {
    while (running) {
      const p = openAndHold(stack, opened)
        .catch((error: Error) => {
          failed += 1;
          failures.push({ at: performance.now(), message: error.message });
        })
        .finally(() => pending.delete(p));
      pending.add(p);
      await new Promise((r) => setTimeout(r, EVERY_MS));
    }
  })();
  try {
    await new Promise((r) => setTimeout(r, WARM_MS));
    const joined = await stack.apply(stack.render([a, b], { options, previous: alone }));
    if (!joined.ok) throw new Error(`apply failed: ${joined.error}`);
    const slot = joined.ok
      ? (stack
          .render([a, b], { options, previous: alone })
          .clusters[0]?.servers.find((s) => s.instanceId === `pg-${b.name}`)?.name ?? 'r02')
      : 'r02';
    let t0 = 0;
    await waitFor(
      `${BACKEND}/${slot} passing`,
      async () => {
        const rows = (await stack.haproxy.runtime.showServersState(BACKEND)).rows;
        const state = rows.find((r) => r.server === slot)?.opState;
        if (state === undefined || !passedCheck(state)) return false;
        t0 = performance.now();
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000 + 200));
    running = false;
    await loop;
    await Promise.allSettled([...pending]);
    const sharePerSecond: number[] = [];
    const openAt: number[] = [];
    for (let s = 0; s < WINDOW_S; s++) {
      const inWindow = opened.filter((o) => o.at >= t0 + s * 1000 && o.at < t0 + (s + 1) * 1000);
      const onB = inWindow.filter((o) => o.port === b.port).length;
      sharePerSecond.push(inWindow.length > 0 ? (100 * onB) / inWindow.length : 0);
      const at = t0 + (s + 1) * 1000;
      openAt.push(
        opened.filter((o) => o.port === b.port && o.at <= at && o.at > at - HOLD_MS).length,
      );
    }
    const reasons = [...new Set(failures.map((f) => f.message))].slice(0, 3).join(' | ');
    const firstFailure = failures[0] ? ((failures[0].at - t0) / 1000).toFixed(1) : 'none';
    return { sharePerSecond, openAt, failed, reasons, firstFailure };
  } finally {
    running = false;
    await loop;
    await Promise.allSettled([...pending]);
    // B leaves again before the next measurement.
    await applied(stack, stack.render([a], { options })).catch(() => undefined);
  }
}

async function applied(stack: ApplyStack, bundle: Bundle): Promise<Bundle> {
  const result = await stack.apply(bundle);
  if (!result.ok) throw new Error(`apply failed: ${result.error}`);
  await waitFor(
    `${BACKEND} readers passing`,
    async () => {
      const rows = (await stack.haproxy.runtime.showServersState(BACKEND)).rows;
      const served = new Set(bundle.clusters[0]?.servers.map((s) => s.name));
      return rows.filter((r) => served.has(r.server)).every((r) => passedCheck(r.opState));
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  return bundle;
}

/** One new connection through the listener, held HOLD_MS; recorded when it was served, by whom. */
async function openAndHold(stack: ApplyStack, opened: Opened[]): Promise<void> {
  const client = new pg.Client({
    host: stack.config.haproxy.host.listenAddress,
    port: stack.clusterPort,
    user: 'postgres',
    database: 'postgres',
    // The nodes serve TLS only; through HAProxy the chain is checked, not the name.
    ssl: stack.pg.sslThroughProxy(),
    connectionTimeoutMillis: 3_000,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ port: string }>("SELECT current_setting('port') AS port");
    opened.push({ at: performance.now(), port: Number(rows[0]?.port) });
    await new Promise((r) => setTimeout(r, HOLD_MS));
  } finally {
    await client.end().catch(() => {});
  }
}

export const slowStart: Benchmark = {
  name: 'slow-start',
  figure: 14,
  title: 'Slow start: connections on a joining reader over its first seconds',
  run,
};
