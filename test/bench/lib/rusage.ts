import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * CPU and peak memory of running one command many times, the way HAProxy runs an external
 * check: a fresh process per check with a cleared environment (only PATH) and the arguments
 * `NOT_USED NOT_USED <addr> <port>`. One `/usr/bin/time` wraps a bash loop of `iterations`
 * runs, so the CPU is that of every descendant (getrusage of reaped children) and the peak
 * RSS is the largest single descendant's. The loop itself is bash builtins only.
 */
export interface LoopCost {
  iterations: number;
  passed: number;
  cpuSecondsPerRun: number;
  userSecondsPerRun: number;
  systemSecondsPerRun: number;
  peakRssKiB: number;
  wallSecondsPerRun: number;
}

export async function measureLoop(options: {
  command: string;
  args: string[];
  iterations: number;
  env?: Record<string, string>;
}): Promise<LoopCost> {
  const { command, args, iterations } = options;
  const script = [
    'passed=0',
    `for ((i = 0; i < ${iterations}; i++)); do`,
    '  if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); fi',
    'done',
    'echo "passed=$passed" >&3',
  ].join('\n');
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', ...(options.env ?? {}) };
  // fd 3 carries the loop's own report; stderr carries /usr/bin/time's.
  const { stderr } = await execFileAsync(
    '/usr/bin/env',
    [
      '-i',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      '/usr/bin/time',
      '-f',
      'rusage user=%U sys=%S maxrss=%M wall=%e',
      '/bin/bash',
      '-c',
      `exec 3>&2; ${script}`,
      'bench-loop',
      command,
      ...args,
    ],
    { maxBuffer: 1 << 20, timeout: 600_000 },
  );
  const m = /rusage user=([\d.]+) sys=([\d.]+) maxrss=(\d+) wall=([\d.]+)/.exec(stderr);
  const p = /passed=(\d+)/.exec(stderr);
  if (!m || !p) throw new Error(`could not read /usr/bin/time output: ${stderr.slice(-500)}`);
  const user = Number(m[1]);
  const sys = Number(m[2]);
  return {
    iterations,
    passed: Number(p[1]),
    cpuSecondsPerRun: (user + sys) / iterations,
    userSecondsPerRun: user / iterations,
    systemSecondsPerRun: sys / iterations,
    peakRssKiB: Number(m[3]),
    wallSecondsPerRun: Number(m[4]) / iterations,
  };
}
