import { setTimeout as sleep } from 'node:timers/promises';
import { HaproxyReloadError, HaproxySocketError } from './errors';
import { sendSocketCommand } from './unix-socket';

/**
 * The master CLI of HAProxy in master-worker mode (`-W -S <master.sock>`). `show proc` lists
 * the master (with its reload count, and failed reloads in 2.6) and the workers; `reload`
 * re-executes the master, which then refuses connections for 0.1-0.3 s (measured here), so
 * every call retries connection errors for a while.
 *
 * 2.6 `show proc`:
 *   #<PID>          <type>          <reloads>       <uptime>        <version>
 *   8469            master          2 [failed: 1]   0d00h00m14s     2.6.12-1+deb12u4
 *   # workers
 *   8726            worker          1               0d00h00m09s     2.6.12-1+deb12u4
 *   # old workers
 * A worker's <reloads> counts reloads since it started: 0 means it serves the latest config.
 * A failed reload bumps the master's reload and failed counts and leaves the old worker.
 */
export interface ProcEntry {
  pid: number;
  type: string;
  reloads: number;
}

export interface ProcList {
  master: { pid: number; reloads: number; failedReloads?: number };
  /** Current workers (section "# workers"). */
  workers: ProcEntry[];
  /** Workers still finishing sessions from before a reload. */
  oldWorkers: ProcEntry[];
}

export function parseShowProc(text: string): ProcList {
  let section: 'head' | 'workers' | 'old' | 'other' = 'head';
  let master: ProcList['master'] | undefined;
  const workers: ProcEntry[] = [];
  const oldWorkers: ProcEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (/^#\s*workers/.test(line)) section = 'workers';
      else if (/^#\s*old workers/.test(line)) section = 'old';
      else if (/^#\s*programs/.test(line)) section = 'other';
      continue;
    }
    const match = /^(\d+)\s+(\S+)\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?/.exec(line);
    if (!match) continue;
    const entry = { pid: Number(match[1]), type: match[2] ?? '', reloads: Number(match[3]) };
    if (entry.type === 'master') {
      master = {
        pid: entry.pid,
        reloads: entry.reloads,
        failedReloads: match[4] === undefined ? undefined : Number(match[4]),
      };
    } else if (section === 'workers') workers.push(entry);
    else if (section === 'old') oldWorkers.push(entry);
  }
  if (!master) throw new HaproxyReloadError(`no master in show proc: ${text.slice(0, 200)}`);
  return { master, workers, oldWorkers };
}

export interface ReloadOutcome {
  before: ProcList;
  after: ProcList;
  newWorkerPid: number;
}

export class HaproxyMasterCli {
  constructor(
    readonly masterSocket: string,
    private readonly options: { retryForMs?: number; confirmTimeoutMs?: number } = {},
  ) {}

  /** A command, retried while the master re-executes (connection refused / socket missing). */
  async command(line: string): Promise<string> {
    const deadline = Date.now() + (this.options.retryForMs ?? 5_000);
    for (;;) {
      try {
        return await sendSocketCommand(this.masterSocket, line);
      } catch (error) {
        const retryable =
          error instanceof HaproxySocketError &&
          (error.code === 'ECONNREFUSED' || error.code === 'ENOENT' || error.code === 'ECONNRESET');
        if (!retryable || Date.now() >= deadline) throw error;
        await sleep(25);
      }
    }
  }

  /** `show proc` without retry: throws HaproxySocketError when HAProxy is not running. */
  async showProcOnce(): Promise<ProcList> {
    return parseShowProc(await sendSocketCommand(this.masterSocket, 'show proc'));
  }

  async showProc(): Promise<ProcList> {
    return parseShowProc(await this.command('show proc'));
  }

  /**
   * Reload and confirm: the master's reload count moved past the one seen before, the failed
   * count did not move, and a worker that was not there before serves the new config.
   */
  async reload(): Promise<ReloadOutcome> {
    const before = await this.showProc();
    const knownPids = new Set([...before.workers, ...before.oldWorkers].map((w) => w.pid));
    try {
      await sendSocketCommand(this.masterSocket, 'reload');
    } catch (error) {
      // The master may close the connection as it re-executes; only a refused connect
      // before anything was sent means the reload was not requested.
      if (error instanceof HaproxySocketError && error.code !== 'ECONNRESET') throw error;
    }
    const deadline = Date.now() + (this.options.confirmTimeoutMs ?? 10_000);
    for (;;) {
      let after: ProcList | undefined;
      try {
        after = await this.showProc();
      } catch (error) {
        if (Date.now() >= deadline) throw error;
      }
      if (after && after.master.reloads > before.master.reloads) {
        const failedBefore = before.master.failedReloads ?? 0;
        const failedAfter = after.master.failedReloads ?? 0;
        if (failedAfter > failedBefore) {
          throw new HaproxyReloadError(
            `HAProxy refused the new config at reload (failed reloads ${failedBefore} -> ${failedAfter}); the previous worker keeps running`,
          );
        }
        const fresh = after.workers.find((w) => w.reloads === 0 && !knownPids.has(w.pid));
        if (fresh) return { before, after, newWorkerPid: fresh.pid };
      }
      if (Date.now() >= deadline) {
        throw new HaproxyReloadError(
          `no new HAProxy worker within ${this.options.confirmTimeoutMs ?? 10_000} ms of the reload`,
        );
      }
      await sleep(50);
    }
  }
}
