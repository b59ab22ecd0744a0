import { readFileSync, writeFileSync } from 'node:fs';
import { sleep } from '../../../packages/local-stack/process/wait';
import { treePids } from '../lib/proc-cpu';

/**
 * BASELINE (seed-style) config change - the thing this project replaces: rewrite the live
 * config file in place (not atomic, no `haproxy -c`), then reload HAProxy (SIGUSR2 to the
 * master, what `systemctl reload haproxy` ends up doing), with no server-state file, so the
 * new worker starts with every server UP until its first check.
 */
export function baselineRewriteAndReload(
  configPath: string,
  config: string,
  masterPid: number,
): void {
  writeFileSync(configPath, config);
  process.kill(masterPid, 'SIGUSR2');
}

/** Current HAProxy worker pids (the master's direct children that are haproxy processes). */
export function workerPids(masterPid: number): number[] {
  return treePids([masterPid]).filter((p) => p !== masterPid && isDirectChild(p, masterPid));
}

function isDirectChild(pid: number, parent: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]) === parent && stat.includes('(haproxy)');
  } catch {
    return false;
  }
}

/** Wait until a worker not in `before` runs (the reload took effect); returns its pid. */
export async function waitForNewWorker(
  masterPid: number,
  before: readonly number[],
  timeoutMs = 10_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const fresh = workerPids(masterPid).find((p) => !before.includes(p));
    if (fresh !== undefined) return fresh;
    await sleep(5);
  }
  throw new Error(`no new HAProxy worker under master ${masterPid} within ${timeoutMs} ms`);
}
