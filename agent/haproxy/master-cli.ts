import { setTimeout as sleep } from 'node:timers/promises';
import { HaproxyReloadError, HaproxySocketError } from './errors';
import { parseReloadAnswer, type ReloadAnswer } from './reload-answer';
import { SOCKET_TIMEOUT, sendSocketCommand } from './unix-socket';

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
  /** The <version> column (e.g. 2.6.12-1+deb12u4), when present. */
  version?: string;
}

export interface ProcList {
  master: { pid: number; reloads: number; failedReloads?: number; version?: string };
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
    const match =
      /^(\d+)\s+(\S+)\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?(?:\s+\S+\s+(\d+\.\d+\S*))?/.exec(line);
    if (!match) continue;
    const entry = {
      pid: Number(match[1]),
      type: match[2] ?? '',
      reloads: Number(match[3]),
      ...(match[5] ? { version: match[5] } : {}),
    };
    if (entry.type === 'master') {
      master = {
        pid: entry.pid,
        reloads: entry.reloads,
        failedReloads: match[4] === undefined ? undefined : Number(match[4]),
        ...(entry.version ? { version: entry.version } : {}),
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
   * Reload and confirm, waiting up to confirmTimeoutMs (the agent's haproxy.reloadTimeoutMs)
   * in all. HAProxy 3.0 holds the `reload` connection until the new worker is up and answers
   * `Success=1|0` + the startup log (reload-answer.ts): Success=0 is a refusal carrying
   * HAProxy's reason. 2.6 answers nothing. Either way, and when the answer does not come in
   * time (a slow start is not a failure), `show proc` decides: the master's reload count moved
   * past the one seen before, the failed count did not move, and a worker that was not there
   * before serves the new config.
   */
  async reload(): Promise<ReloadOutcome> {
    const timeoutMs = this.options.confirmTimeoutMs ?? 10_000;
    const before = await this.showProc();
    const knownPids = new Set([...before.workers, ...before.oldWorkers].map((w) => w.pid));
    const deadline = Date.now() + timeoutMs;
    let answer: ReloadAnswer = { kind: 'none' };
    try {
      answer = parseReloadAnswer(
        await sendSocketCommand(this.masterSocket, 'reload', Math.max(1, timeoutMs)),
      );
    } catch (error) {
      // The master may close the connection as it re-executes (2.6), or the answer may be
      // late: show proc decides. Only a refused connect means the reload was not requested.
      const unknown =
        error instanceof HaproxySocketError &&
        (error.code === 'ECONNRESET' || error.code === SOCKET_TIMEOUT);
      if (!unknown) throw error;
    }
    if (answer.kind === 'failure') {
      throw new HaproxyReloadError(
        `HAProxy refused the new config at reload: ${answer.reason}; the previous worker keeps running`,
        true,
        answer.reason,
      );
    }
    // After a late or missing answer, show proc still gets a short while of its own.
    const confirmBy = Math.max(deadline, Date.now() + 2_000);
    for (;;) {
      let after: ProcList | undefined;
      try {
        after = await this.showProc();
      } catch (error) {
        if (Date.now() >= confirmBy) throw error;
      }
      if (after && after.master.reloads > before.master.reloads) {
        const failedBefore = before.master.failedReloads ?? 0;
        const failedAfter = after.master.failedReloads ?? 0;
        if (failedAfter > failedBefore) {
          throw new HaproxyReloadError(
            `HAProxy refused the new config at reload (failed reloads ${failedBefore} -> ${failedAfter}); the previous worker keeps running`,
            true,
          );
        }
        const fresh = after.workers.find((w) => w.reloads === 0 && !knownPids.has(w.pid));
        if (fresh) return { before, after, newWorkerPid: fresh.pid };
      }
      if (Date.now() >= confirmBy) {
        throw new HaproxyReloadError(`no new HAProxy worker within ${timeoutMs} ms of the reload`);
      }
      await sleep(50);
    }
  }
}
