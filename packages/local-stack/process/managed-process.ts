import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { sleep } from './wait';

/**
 * Processes started by tests and the local stack. Each runs in its own process group and is
 * remembered by PID, so it can be ended by PID (the group, so its children go too) even when
 * the test that started it failed. `stopAll` runs on exit and on SIGINT/SIGTERM.
 */
export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Run as this uid/gid (PgBouncer and PostgreSQL refuse to run as root). */
  uid?: number;
  gid?: number;
}

export class ManagedProcess {
  private exited = false;
  readonly exitPromise: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly pid: number,
    child: ChildProcess,
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.exited = true;
        live.delete(this);
        resolve(code);
      });
    });
  }

  get running(): boolean {
    return !this.exited;
  }

  /** SIGTERM the process group, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    signalGroup(this.pid, 'SIGTERM');
    const done = await Promise.race([
      this.exitPromise.then(() => true),
      sleep(graceMs).then(() => false),
    ]);
    if (!done) {
      signalGroup(this.pid, 'SIGKILL');
      await this.exitPromise;
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) signalGroup(this.pid, signal);
  }
}

const live = new Set<ManagedProcess>();

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export function startProcess(options: StartOptions): ManagedProcess {
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
      uid: options.uid,
      gid: options.gid,
    });
    // A spawn failure (no such binary) leaves pid undefined, thrown below; its 'error' event
    // must not also surface as an uncaught exception.
    child.on('error', () => undefined);
    if (child.pid === undefined)
      throw new Error(`could not start ${options.name} (${options.command})`);
    const managed = new ManagedProcess(options.name, child.pid, child);
    live.add(managed);
    return managed;
  } finally {
    closeSync(fd);
  }
}

/** Track a daemon that forked itself (pidfile): it is ended by PID with the others. */
export function adoptPid(name: string, pid: number): { stop: (graceMs?: number) => Promise<void> } {
  const entry = { name, pid };
  adopted.add(entry);
  return {
    stop: async (graceMs = 3000) => {
      adopted.delete(entry);
      await stopPid(pid, graceMs);
    },
  };
}

const adopted = new Set<{ name: string; pid: number }>();

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && isAlive(pid)) await sleep(25);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([
    ...[...live].map((p) => p.stop(1000)),
    ...[...adopted].map((a) => stopPid(a.pid, 1000)),
  ]);
  adopted.clear();
}

/** Synchronous last resort on exit: SIGKILL everything still running. */
function killAllNow(): void {
  for (const p of live) p.kill('SIGKILL');
  for (const a of adopted) {
    try {
      process.kill(a.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

let hooked = false;
/** Install exit/signal hooks once per Node process. */
export function installCleanupHooks(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killAllNow);
  // Inside vitest the runner owns signals; tests end their processes in afterAll/afterEach
  // and the exit hook above is the last resort.
  if (process.env.VITEST) return;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void stopAll().finally(() => process.exit(130));
    });
  }
}
installCleanupHooks();
