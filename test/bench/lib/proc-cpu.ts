import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of a process tree read from /proc, so daemons we did not start as direct
 * children (HAProxy workers, PostgreSQL backends, external-check forks) are counted too.
 *
 * Tree CPU = sum over the live members of (utime + stime + cutime + cstime). A process that
 * exited and was reaped is in its reaper's cutime/cstime, so every check process HAProxy
 * forked, and every backend PostgreSQL forked for a new connection, is counted once.
 */
const CLK_TCK = 100;

interface ProcStat {
  pid: number;
  ppid: number;
  ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(rest[n - 3]);
  return {
    pid,
    ppid: field(4),
    ticks: field(14) + field(15) + field(16) + field(17),
  };
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.push(s);
  }
  return stats;
}

/** Every live pid in the trees rooted at `roots` (roots included). */
export function treePids(roots: readonly number[]): number[] {
  const stats = allStats();
  const children = new Map<number, number[]>();
  for (const s of stats) {
    const list = children.get(s.ppid) ?? [];
    list.push(s.pid);
    children.set(s.ppid, list);
  }
  const live = new Set(stats.map((s) => s.pid));
  const out: number[] = [];
  const queue = roots.filter((r) => live.has(r));
  while (queue.length) {
    const pid = queue.shift() as number;
    if (out.includes(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU seconds used so far by the trees rooted at `roots`. */
export function treeCpuSeconds(roots: readonly number[]): number {
  let ticks = 0;
  for (const pid of treePids(roots)) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

/** CPU seconds of this process's children that have exited and been reaped so far. */
export function reapedChildrenCpuSeconds(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[16 - 3]) + Number(rest[17 - 3])) / CLK_TCK;
}

/**
 * CPU seconds the whole machine has been busy so far (user + nice + system + irq + softirq of
 * every CPU, /proc/stat): every process, the other engineers' included.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0)) / CLK_TCK;
}
