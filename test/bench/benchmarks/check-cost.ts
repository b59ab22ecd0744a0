import { type PostgresCluster, startPostgresCluster } from '../../../infra/local/postgres-cluster';
import { sleep } from '../../../infra/local/process/wait';
import { BASELINE_CHECK_SCRIPT } from '../baseline/haproxy-config';
import { type Benchmark, type BenchOutcome, MissingPartError } from '../lib/benchmark';
import { type OursHealth, POSTGRESQLCHK, startOursHealth } from '../lib/ours-health';
import { countNewSessions } from '../lib/pg-stats';
import { treeCpuSeconds } from '../lib/proc-cpu';
import { type BenchRow, row } from '../lib/result';
import { measureLoop } from '../lib/rusage';
import { countForks, forksOfCommand } from '../lib/strace';

/**
 * Figure 1: what one health check costs. Both checks run N times in a bash loop against the
 * same streaming replica, with HAProxy's calling convention (cleared environment, arguments
 * NOT_USED NOT_USED <addr> <port>), interleaved in rounds so machine noise hits both alike.
 */
const ITERATIONS = Number(process.env.BENCH_CHECK_ITERATIONS ?? 200);
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
): Promise<CheckSample> {
  const node = cluster.node(replica);
  const dbBefore = treeCpuSeconds([node.pid]);
  const daemonBefore = treeCpuSeconds(daemonPids());
  const started = Date.now();
  const { value: cost, sessions } = await countNewSessions(cluster, replica, () =>
    measureLoop({
      command,
      args: ['NOT_USED', 'NOT_USED', node.host, String(node.port)],
      iterations: ITERATIONS,
      env,
    }),
  );
  const wall = (Date.now() - started) / 1000;
  return {
    hostCpu: cost.cpuSecondsPerRun,
    peakRssKiB: cost.peakRssKiB,
    dbCpu: (treeCpuSeconds([node.pid]) - dbBefore) / ITERATIONS,
    daemonCpu: (treeCpuSeconds(daemonPids()) - daemonBefore) / ITERATIONS,
    sessions: sessions / ITERATIONS,
    passed: cost.passed,
    wall,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function run(): Promise<BenchOutcome> {
  const cluster = await startPostgresCluster({ replicas: 1 });
  let ours: OursHealth | undefined;
  const method = [
    `Each check command runs ${ITERATIONS} times in a bash loop under one \`/usr/bin/time\` (CPU = user+sys of every descendant; peak RSS = largest single descendant), with HAProxy's calling convention (\`env -i PATH=…\`, arguments \`NOT_USED NOT_USED <addr> <port>\`), against the same streaming replica; ${ROUNDS} interleaved rounds, medians quoted.`,
    "DB server CPU per check = CPU of the replica's postmaster tree (backends forked for new connections included) during the loop / checks. New DB connections per check = delta of `sum(pg_stat_database.sessions)` on the replica / checks.",
    "Ours: `agent/postgresqlchk` (bash thin client of the health daemon). Daemon CPU per check = the daemon's CPU during the loop minus its idle probing CPU over the same wall time, / checks. Its probing itself (one held connection per server) is in figure 2.",
    'Forks per check: strace (fork/vfork/clone) of one check run, plus the one fork HAProxy makes to start it. Agent-check forks/s: strace of the HAProxy worker for 10 s with 5 servers in agent-check mode.',
  ];
  try {
    const replica = cluster.replicas()[0]?.name as string;
    const baseEnv = { PATH: '/usr/bin:/bin' };
    const base: CheckSample[] = [];
    const mine: CheckSample[] = [];
    let oursReason: string | undefined;
    try {
      ours = await startOursHealth(cluster, { checkMode: 'external' });
    } catch (error) {
      if (!(error instanceof MissingPartError)) throw error;
      oursReason = error.message;
    }
    const oursPids = () => (ours ? ours.daemonPids() : []);
    for (let round = 0; round < ROUNDS; round++) {
      base.push(await sampleCheck(cluster, replica, BASELINE_CHECK_SCRIPT, baseEnv, () => []));
      if (ours) {
        const idleStart = treeCpuSeconds(oursPids());
        const idleWall = base[base.length - 1]?.wall ?? 1;
        await sleep(idleWall * 1000);
        const idlePerCheck = (treeCpuSeconds(oursPids()) - idleStart) / ITERATIONS;
        const s = await sampleCheck(cluster, replica, POSTGRESQLCHK, ours.checkEnv(), oursPids);
        s.daemonCpu = Math.max(0, s.daemonCpu - idlePerCheck);
        mine.push(s);
      }
    }
    const node = cluster.node(replica);
    const baseForks =
      1 +
      (await forksOfCommand(
        BASELINE_CHECK_SCRIPT,
        ['NOT_USED', 'NOT_USED', node.host, String(node.port)],
        baseEnv,
      ));
    const rows: BenchRow[] = [];
    const b = (f: (s: CheckSample) => number) => median(base.map(f));
    const o = (f: (s: CheckSample) => number) => (mine.length ? median(mine.map(f)) : null);
    const host = (s: CheckSample) => s.hostCpu;
    const total = (s: CheckSample) => s.hostCpu + s.daemonCpu + s.dbCpu;
    const oursHost = o((s) => s.hostCpu + s.daemonCpu);
    rows.push(
      row(
        'CPU per check on the HAProxy host (check process + daemon share)',
        's',
        b(host),
        oursHost,
        {
          target: '≤ 0.1 × baseline',
          ...(oursHost === null ? {} : { met: oursHost <= 0.1 * b(host) }),
        },
      ),
      row(
        'CPU per check on the DB server',
        's',
        b((s) => s.dbCpu),
        o((s) => s.dbCpu),
      ),
      row('CPU per check, host + DB server', 's', b(total), o(total), {
        target: '≤ 0.1 × baseline',
        ...(mine.length ? { met: (o(total) as number) <= 0.1 * b(total) } : {}),
      }),
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
          ...(mine.length ? { met: (o((s) => s.sessions) as number) === 0 } : {}),
        },
      ),
      row(
        'checks passed (replica)',
        '%',
        (100 * b((s) => s.passed)) / ITERATIONS,
        mine.length ? (100 * (o((s) => s.passed) as number)) / ITERATIONS : null,
      ),
    );
    if (ours) {
      const oursForks =
        1 +
        (await forksOfCommand(
          POSTGRESQLCHK,
          ['NOT_USED', 'NOT_USED', node.host, String(node.port)],
          ours.checkEnv(),
        ));
      rows.push(
        row('processes forked per check (external-check mode)', 'forks', baseForks, oursForks),
      );
      const agentForks = await ours.agentCheckForksPerSecond?.(countForks);
      rows.push(
        row(
          'processes forked per second, agent-check mode (5 servers)',
          'forks/s',
          null,
          agentForks ?? null,
          {
            target: '0',
            ...(agentForks === undefined ? {} : { met: agentForks === 0 }),
            note: 'baseline has no agent-check mode',
          },
        ),
      );
    } else {
      rows.push(row('processes forked per check (external-check mode)', 'forks', baseForks, null));
    }
    return {
      status: ours ? 'measured' : 'partial',
      ...(oursReason ? { reason: `ours not measured: ${oursReason}` } : {}),
      rows,
      method,
    };
  } finally {
    await ours?.stop();
    await cluster.stop();
  }
}

export const checkCost: Benchmark = {
  name: 'check-cost',
  figure: 1,
  title: 'Check cost',
  run,
};
