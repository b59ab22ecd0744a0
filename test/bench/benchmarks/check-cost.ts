import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../packages/local-stack/process/ports';
import { sleep } from '../../../packages/local-stack/process/wait';
import { workerPids } from '../baseline/apply';
import {
  BASELINE_CHECK_PATH,
  BASELINE_CHECK_SCRIPT,
  BASELINE_PATH_CHECK_SCRIPT,
} from '../baseline/haproxy-config';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { isUp, waitForStatuses } from '../lib/haproxy-stat';
import { startOursHost } from '../lib/hosts';
import { type OursHealth, startOursHealth } from '../lib/ours-health';
import { renderOurs } from '../lib/ours-stack';
import { countNewSessions } from '../lib/pg-stats';
import { treeCpuSeconds } from '../lib/proc-cpu';
import { type BenchRow, row } from '../lib/result';
import { measureLoop } from '../lib/rusage';
import { median } from '../lib/stats';
import { countForks, forksOfCommand } from '../lib/strace';

/**
 * Figure 1: what one health check costs. Both checks run N times in a bash loop against the
 * same streaming replica, with HAProxy's calling convention (cleared environment, arguments
 * NOT_USED NOT_USED <addr> <port>), interleaved in rounds so machine noise hits both alike.
 */
const ITERATIONS = Number(process.env.BENCH_CHECK_ITERATIONS ?? 100);
const ROUNDS = 3;

interface CheckSample {
  hostCpu: number;
  peakRssKiB: number;
  dbCpu: number;
  daemonCpu: number;
  sessions: number;
  passed: number;
  wall: number;
}

async function sampleCheck(
  cluster: PostgresCluster,
  replica: string,
  command: string,
  env: Record<string, string>,
  daemonPids: () => number[],
  iterations = ITERATIONS,
): Promise<CheckSample> {
  const node = cluster.node(replica);
  const dbBefore = treeCpuSeconds([node.pid]);
  const daemonBefore = treeCpuSeconds(daemonPids());
  const started = Date.now();
  const { value: cost, sessions } = await countNewSessions(cluster, replica, () =>
    measureLoop({
      command,
      args: ['NOT_USED', 'NOT_USED', node.host, String(node.port)],
      iterations,
      env,
    }),
  );
  const wall = (Date.now() - started) / 1000;
  return {
    hostCpu: cost.cpuSecondsPerRun,
    peakRssKiB: cost.peakRssKiB,
    dbCpu: (treeCpuSeconds([node.pid]) - dbBefore) / iterations,
    daemonCpu: (treeCpuSeconds(daemonPids()) - daemonBefore) / iterations,
    sessions: sessions / iterations,
    passed: cost.passed,
    wall,
  };
}

async function run(): Promise<BenchOutcome> {
  const cluster = await startPostgresCluster({ replicas: 1 });
  let ours: OursHealth | undefined;
  const method = [
    `Each check command runs ${ITERATIONS} times in a bash loop under one \`/usr/bin/time\` (CPU = user+sys of every descendant; peak RSS = largest single descendant), with HAProxy's calling convention (\`env -i PATH=…\`, arguments \`NOT_USED NOT_USED <addr> <port>\`), against the same streaming replica; ${ROUNDS} interleaved rounds, medians quoted.`,
    "DB server CPU per check = CPU of the replica's postmaster tree (backends forked for new connections included) during the loop / checks. New DB connections per check = delta of `sum(pg_stat_database.sessions)` on the replica / checks.",
    "Ours: `agent/postgresqlchk` installed in a bin dir with its check.conf (bash builtins, asks the health daemon for its cached verdict). Daemon CPU per check = the daemon's CPU during the loop minus its idle probing CPU over the same wall time, / checks. Its probing itself (one held connection per server) is in figure 2.",
    "Forks per check: strace (fork/vfork/clone) of one check run, plus the one fork HAProxy makes to start it. Agent mode forks/s: strace (following children) of ours' HAProxy worker for 6 s, in the rendered agent mode (HAProxy's tcp-check asks the daemon every 500 ms; the template chose tcp-check over agent-check so a dead daemon fails the check).",
  ];
  try {
    const replica = cluster.replicas()[0]?.name as string;
    const node = cluster.node(replica);
    const checkArgs = ['NOT_USED', 'NOT_USED', node.host, String(node.port)];
    const baseEnv = { PATH: BASELINE_CHECK_PATH };
    const base: CheckSample[] = [];
    const mine: CheckSample[] = [];
    ours = await startOursHealth(cluster, 15432);
    const running = ours;
    for (let round = 0; round < ROUNDS; round++) {
      base.push(await sampleCheck(cluster, replica, BASELINE_CHECK_SCRIPT, baseEnv, () => []));
      const idleStart = treeCpuSeconds(running.daemonPids());
      await sleep((base[base.length - 1]?.wall ?? 1) * 1000);
      const idlePerCheck = (treeCpuSeconds(running.daemonPids()) - idleStart) / ITERATIONS;
      const s = await sampleCheck(cluster, replica, running.command, running.checkEnv(), () =>
        running.daemonPids(),
      );
      s.daemonCpu = Math.max(0, s.daemonCpu - idlePerCheck);
      mine.push(s);
    }
    // The seed called `psql` through PATH: on Debian, the Perl wrapper /usr/bin/psql first.
    const wrapped = await sampleCheck(
      cluster,
      replica,
      BASELINE_PATH_CHECK_SCRIPT,
      baseEnv,
      () => [],
      60,
    );
    const baseForks = 1 + (await forksOfCommand(BASELINE_CHECK_SCRIPT, checkArgs, baseEnv));
    const oursForks = 1 + (await forksOfCommand(running.command, checkArgs, running.checkEnv()));
    const agentForks = await agentCheckForksPerSecond(cluster);

    const b = (f: (s: CheckSample) => number) => median(base.map(f));
    const o = (f: (s: CheckSample) => number) => median(mine.map(f));
    // CPU rows in milliseconds per check.
    const hostBase = 1000 * b((s) => s.hostCpu);
    const hostOurs = 1000 * o((s) => s.hostCpu + s.daemonCpu);
    const total = (s: CheckSample) => 1000 * (s.hostCpu + s.daemonCpu + s.dbCpu);
    const rows: BenchRow[] = [
      row(
        'CPU per check on the HAProxy host (check process + daemon share)',
        'ms',
        hostBase,
        hostOurs,
        {
          target: '≤ 0.1 × baseline',
          met: hostOurs <= 0.1 * hostBase,
          headline: true,
        },
      ),
      row(
        'CPU per check on the DB server',
        'ms',
        1000 * b((s) => s.dbCpu),
        1000 * o((s) => s.dbCpu),
      ),
      row('CPU per check, host + DB server', 'ms', b(total), o(total), {
        target: '≤ 0.1 × baseline',
        met: o(total) <= 0.1 * b(total),
      }),
      row(
        'CPU per check on the HAProxy host, vs the baseline calling `psql` through PATH',
        'ms',
        1000 * wrapped.hostCpu,
        hostOurs,
        {
          target: '≤ 0.1 × baseline',
          met: hostOurs <= 100 * wrapped.hostCpu,
          note: "a second baseline: the seed's script called `psql`, on Debian the postgresql-common Perl wrapper /usr/bin/psql; one round of 60 checks",
        },
      ),
      row(
        'peak RSS of the check process',
        'KiB',
        b((s) => s.peakRssKiB),
        o((s) => s.peakRssKiB),
      ),
      row(
        'new DB connections per check',
        'conn',
        b((s) => s.sessions),
        o((s) => s.sessions),
        {
          target: '0',
          met: o((s) => s.sessions) === 0,
          headline: true,
        },
      ),
      row(
        'checks that passed on a healthy replica',
        '%',
        (100 * b((s) => s.passed)) / ITERATIONS,
        (100 * o((s) => s.passed)) / ITERATIONS,
      ),
      row('processes forked per check, external-check mode', 'forks', baseForks, oursForks),
      row(
        'processes forked per second by HAProxy, agent mode (tcp-check to the daemon)',
        'forks/s',
        null,
        agentForks.value,
        {
          target: '0',
          ...(agentForks.value === null ? {} : { met: agentForks.value === 0 }),
          note: agentForks.note,
        },
      ),
    ];
    return {
      status: agentForks.value === null ? 'partial' : 'measured',
      ...(agentForks.value === null ? { reason: `agent-check forks/s: ${agentForks.note}` } : {}),
      rows,
      method,
    };
  } finally {
    await ours?.stop();
    await cluster.stop();
  }
}

/**
 * Ours in agent mode (the rendered default: HAProxy's own tcp-check asks the daemon over TCP
 * every 500 ms): processes the HAProxy worker creates, counted by strace for 10 s.
 */
async function agentCheckForksPerSecond(
  cluster: PostgresCluster,
): Promise<{ value: number | null; note: string }> {
  const host = await startOursHost();
  try {
    const bundle = renderOurs([{ clusterId: 'bench-agent', port: await freePort(), pg: cluster }]);
    const applied = await host.apply(bundle);
    if (!applied.result.ok) throw new Error(`ours apply failed: ${applied.result.error}`);
    const c = bundle.clusters[0];
    await waitForStatuses(
      host.haproxy,
      new Map(
        c?.servers.filter((s) => s.role === 'reader').map((s) => [`${c.backend}/${s.name}`, isUp]),
      ),
    );
    const worker = workerPids(host.haproxy.pid)[0];
    if (worker === undefined) throw new Error('no HAProxy worker');
    const seconds = 6;
    const forks = await countForks(worker, seconds);
    return {
      value: forks / seconds,
      note: `${c?.servers.length} server(s) checked every 500 ms for ${seconds} s; baseline has no such mode`,
    };
  } finally {
    await host.stop();
  }
}

export const checkCost: Benchmark = {
  name: 'check-cost',
  figure: 1,
  title: 'Check cost',
  run,
};
