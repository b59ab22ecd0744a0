import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../packages/local-stack/postgres-cluster';
import { sleep } from '../../../packages/local-stack/process/wait';
import { workerPids } from '../baseline/apply';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { isDown, isUp, waitForStatuses } from '../lib/haproxy-stat';
import { type BaselineHost, type OursHost, startBaselineHost, startOursHost } from '../lib/hosts';
import { baselineClusterOf, type ClusterSpec, renderSpecs } from '../lib/ours-stack';
import { sessionsOpened } from '../lib/pg-stats';
import { treeCpuSeconds } from '../lib/proc-cpu';
import { type BenchRow, row } from '../lib/result';
import { countForks } from '../lib/strace';

/**
 * Figure 2: CPU one HAProxy host spends checking 3 clusters × 5 readers, each mode at its
 * default interval, and what that checking costs the database servers.
 */
const WINDOW_S = Number(process.env.BENCH_HOSTLOAD_SECONDS ?? 12);
const SCALE_TO_S = 60;
const FORK_WINDOW_S = 5;
const CLUSTERS = 3;
const READERS = 5;

/** 15 reader endpoints on distinct loopback addresses, served by the 2 replicas. */
function specs(pg: PostgresCluster, checkMode: 'agent' | 'external'): ClusterSpec[] {
  const replicas = pg.replicas();
  const primary = pg.primary();
  return Array.from({ length: CLUSTERS }, (_, k) => ({
    clusterId: `load-${k + 1}`,
    port: 26_000 + k,
    options: { checkMode },
    members: [
      { instanceId: `load-${k + 1}-w`, address: primary.host, port: primary.port, isWriter: true },
      ...Array.from({ length: READERS }, (_, j) => {
        const replica = replicas[j % replicas.length] as (typeof replicas)[number];
        return {
          instanceId: `load-${k + 1}-r${j + 1}`,
          address: `127.0.0.${20 + READERS * k + j}`,
          port: replica.port,
          isWriter: false,
        };
      }),
    ],
  }));
}

interface Window {
  hostCpuS: number;
  daemonCpuS: number;
  dbCpuS: number;
  sessionsPerS: number;
  forksPerS: number;
}

async function measure(
  pg: PostgresCluster,
  haproxyMaster: number,
  daemonPid?: number,
): Promise<Window> {
  const hostPids = () => (daemonPid ? [haproxyMaster, daemonPid] : [haproxyMaster]);
  const daemonPids = () => (daemonPid ? [daemonPid] : []);
  const pgPids = () =>
    pg
      .nodes()
      .map((n) => n.pid)
      .filter((p) => p > 0);
  const nodes = pg.replicas().map((r) => r.name);
  const sessionsBefore = await Promise.all(nodes.map((n) => sessionsOpened(pg, n)));
  const host0 = treeCpuSeconds(hostPids());
  const daemon0 = treeCpuSeconds(daemonPids());
  const db0 = treeCpuSeconds(pgPids());
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const host1 = treeCpuSeconds(hostPids());
  const daemon1 = treeCpuSeconds(daemonPids());
  const db1 = treeCpuSeconds(pgPids());
  const seconds = (performance.now() - t0) / 1000;
  await sleep(1200);
  const sessionsAfter = await Promise.all(nodes.map((n) => sessionsOpened(pg, n)));
  const sessions = sessionsAfter.reduce((a, b, i) => a + b - (sessionsBefore[i] as number), 0);
  const worker = workerPids(haproxyMaster)[0];
  const forks = worker === undefined ? Number.NaN : await countForks(worker, FORK_WINDOW_S);
  return {
    hostCpuS: ((host1 - host0) * SCALE_TO_S) / seconds,
    daemonCpuS: ((daemon1 - daemon0) * SCALE_TO_S) / seconds,
    dbCpuS: ((db1 - db0) * SCALE_TO_S) / seconds,
    sessionsPerS: sessions / (seconds + 1.2),
    forksPerS: forks / FORK_WINDOW_S,
  };
}

async function run(): Promise<BenchOutcome> {
  const pg = await startPostgresCluster({ replicas: 2, extraConf: ["listen_addresses = '*'"] });
  let base: BaselineHost | undefined;
  let ours: OursHost | undefined;
  try {
    // Baseline: the seed-style config, readers only (the seed also checked the writer,
    // which would add a sixth check per cluster; left out so both check the same 15).
    const baseSpecs = specs(pg, 'external');
    const baseClusters = baseSpecs.map((s) => baselineClusterOf(s, { includeWriter: false }));
    base = await startBaselineHost(baseClusters);
    const baseHost = base;
    await waitForStatuses(
      baseHost.haproxy,
      new Map(
        baseClusters.flatMap((c) => c.servers.map((s) => [`${c.name}/${s.name}`, isUp] as const)),
      ),
    );
    await sleep(2000);
    const baseline = await measure(pg, baseHost.haproxy.pid);
    await base.stop();
    base = undefined;

    ours = await startOursHost();
    const host = ours;
    const results: Record<'agent' | 'external', Window> = {} as never;
    for (const mode of ['agent', 'external'] as const) {
      const bundle = renderSpecs(specs(pg, mode));
      const applied = await host.apply(bundle);
      if (!applied.result.ok) throw new Error(`ours apply failed: ${applied.result.error}`);
      const slots = new Map<string, (s: string) => boolean>();
      for (const c of bundle.clusters) {
        for (const s of c.servers)
          slots.set(`${c.backend}/${s.name}`, s.role === 'reader' ? isUp : isDown);
      }
      await waitForStatuses(host.haproxy, slots);
      await sleep(2000);
      results[mode] = await measure(pg, host.haproxy.pid, host.daemonPid);
    }
    // Checks per minute the configs ask for: 15 servers × 60 s / inter.
    const checksPerMinute = { baseline: (15 * 60) / 2, agent: (15 * 60) / 0.5, external: 15 * 60 };
    const rows: BenchRow[] = [];
    for (const mode of ['agent', 'external'] as const) {
      const o = results[mode];
      const label =
        mode === 'agent'
          ? 'ours agent mode (tcp-check to the daemon, 500 ms)'
          : 'ours external mode (postgresqlchk, 1 s)';
      rows.push(
        row(
          `host CPU per minute of checking, ${label}`,
          'CPU s / 60 s',
          baseline.hostCpuS,
          o.hostCpuS,
          {
            note: `HAProxy master+worker+check processes, plus the daemon for ours (daemon ${o.daemonCpuS.toFixed(2)} s of it)`,
          },
        ),
        row(
          `health checks per minute (from the config), ${label}`,
          'checks',
          checksPerMinute.baseline,
          checksPerMinute[mode],
        ),
        row(
          `host CPU per health check, ${label}`,
          'ms',
          (1000 * baseline.hostCpuS) / checksPerMinute.baseline,
          (1000 * o.hostCpuS) / checksPerMinute[mode],
          { headline: true },
        ),
        row(`DB servers' CPU per minute, ${label}`, 'CPU s / 60 s', baseline.dbCpuS, o.dbCpuS),
        row(
          `new DB connections per second, ${label}`,
          'conn/s',
          baseline.sessionsPerS,
          o.sessionsPerS,
        ),
        row(`processes forked per second, ${label}`, 'forks/s', baseline.forksPerS, o.forksPerS),
      );
    }
    return {
      status: 'measured',
      rows,
      method: [
        `One host checks 3 clusters × 5 readers (15 servers on distinct loopback addresses 127.0.0.20-34, backed by 2 streaming replicas). Each mode at its default interval: baseline psql external check every 2 s; ours agent mode every 500 ms with the daemon probing every 250 ms; ours external mode (postgresqlchk) every 1 s. The baseline checks only the 15 readers (the seed also checked the writer).`,
        `CPU measured over ${WINDOW_S} s per mode (scaled to 60 s; the issue asks for 60 s, shortened to keep the whole run under ~10 minutes) from /proc: the HAProxy process tree (master, worker, and every check process it forked and reaped) plus, for ours, the agent daemon's tree. DB CPU: every PostgreSQL node's process tree. New connections: delta of pg_stat_database.sessions on the replicas. Forks: strace of the HAProxy worker (following children) for ${FORK_WINDOW_S} s after the CPU window.`,
        'The modes ran one after the other on the same PostgreSQL nodes (baseline first), so they did not compete with each other for CPU.',
      ],
    };
  } finally {
    await base?.stop();
    await ours?.stop();
    await pg.stop();
  }
}

export const hostLoad: Benchmark = {
  name: 'host-load',
  figure: 2,
  title: 'Host load of checking',
  run,
};
