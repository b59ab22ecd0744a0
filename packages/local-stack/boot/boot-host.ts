import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * One harness host: a copy-on-write view (overlay) of the cached Debian root with a real
 * systemd as its PID 1, in its own PID, mount and UTS namespaces, sharing this machine's
 * network (so loopback reaches the local stack and the stand-ins, and the host's HAProxy,
 * PgBouncer and agent are reachable from the tests on 127.0.0.1).
 *
 *   unshare --pid --fork --mount --mount-proc=<root>/proc --uts chroot <root> /lib/systemd/systemd --system
 *
 * `poweroff()` ends that systemd (its namespaces and /run go with it) and `boot()` starts a
 * new one on the same overlay: a reboot that keeps the disk. `destroy()` ends the PID
 * namespace by killing its init (by PID), unmounts the overlay and removes the upper layer;
 * it also runs from a process 'exit' hook, so a failed or interrupted test leaves nothing.
 */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const live = new Set<BootHost>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const host of live) host.destroySync();
  });
  // A signal ends the process without 'exit' handlers: tear down, then die of the signal.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const host of live) host.destroySync();
      process.kill(process.pid, signal);
    });
  }
}

/**
 * Hosts left by a run that was killed outright (SIGKILL runs no handler): every overlay
 * mounted at <tmp>/aurora-haproxy-boot-*\/host-*\/root whose harness process (owner.pid in
 * the harness dir) is gone: its systemd is killed by PID, the overlay unmounted, the dir
 * removed. Called when a harness starts.
 */
export function reapStaleHosts(tmp: string): void {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n');
  for (const line of mounts) {
    const target = line.split(' ')[1] ?? '';
    const match = new RegExp(
      `^(${escapeRegExp(tmp)}/aurora-haproxy-boot-[^/]+)/host-[^/]+/root$`,
    ).exec(target);
    if (!match?.[1]) continue;
    const harnessDir = match[1];
    let owner = 0;
    try {
      owner = Number(readFileSync(join(harnessDir, 'owner.pid'), 'utf8'));
    } catch {
      /* no owner file: treat as stale */
    }
    if (owner > 0 && isAlive(owner)) continue;
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (readlinkSync(`/proc/${pid}/root`) === target) process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone or not ours to read */
      }
    }
    try {
      execFileSync('umount', ['-l', target], { stdio: 'ignore' });
    } catch {
      /* already unmounted */
    }
    rmSync(harnessDir, { recursive: true, force: true, maxRetries: 3 });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class BootHost {
  readonly root: string;
  private unshareProcess?: ChildProcess;
  private initPid?: number;
  private boots = 0;

  constructor(
    readonly lowerDir: string,
    readonly workDir: string,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.root = join(workDir, 'root');
  }

  /** Mount the overlay (lower: the cached root, read-only; upper: this host's disk). */
  mount(): void {
    for (const dir of ['upper', 'work', 'root'])
      mkdirSync(join(this.workDir, dir), { recursive: true });
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', this.overlayOptions(), this.root]);
    live.add(this);
    installExitHook();
    // Name resolution for apt (Debian's mirror); on EC2 the VPC resolver answers.
    writeFileSync(join(this.root, 'etc', 'resolv.conf'), readFileSync('/etc/resolv.conf'));
    // No consoles in a container: the getty generator would make boot wait for this
    // machine's serial console device (dev-ttyS0), which never appears here (90 s timeout).
    for (const unit of ['getty.target', 'serial-getty@.service']) {
      const link = join(this.root, 'etc', 'systemd', 'system', unit);
      rmSync(link, { force: true });
      symlinkSync('/dev/null', link);
    }
  }

  /** PID of the host's systemd as this machine sees it (undefined while powered off). */
  get pid(): number | undefined {
    return this.initPid;
  }

  /** Start systemd as PID 1 and wait until the boot finished (running or degraded). */
  async boot(timeoutMs = 120_000): Promise<string> {
    if (this.initPid !== undefined) throw new Error('boot host is already running');
    this.boots += 1;
    const logFd = openSync(join(this.workDir, `systemd-boot-${this.boots}.log`), 'a');
    const child = spawn(
      'unshare',
      [
        '--pid',
        '--fork',
        '--mount',
        `--mount-proc=${join(this.root, 'proc')}`,
        '--uts',
        'chroot',
        this.root,
        '/lib/systemd/systemd',
        '--system',
      ],
      { detached: true, stdio: ['ignore', logFd, logFd], env: { PATH } },
    );
    closeSync(logFd);
    // A spawn failure leaves pid undefined (thrown below); the 'error' event must not also be
    // an uncaught exception.
    child.on('error', () => undefined);
    this.unshareProcess = child;
    const pid = child.pid;
    if (pid === undefined) throw new Error('could not start unshare');
    this.initPid = await waitForValue(
      () => childOf(pid),
      10_000,
      `systemd (child of unshare ${pid}) to start`,
    );
    this.log(`boot ${this.boots}: systemd is PID ${this.initPid}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.exec(['systemctl', 'is-system-running', '--wait'], {
        timeoutMs: Math.max(1000, deadline - Date.now()),
      });
      const text = state.stdout.trim();
      if (['running', 'degraded'].includes(text)) return text;
      if (Date.now() > deadline) {
        throw new Error(
          `host did not finish booting within ${timeoutMs} ms (state ${text || state.stderr.trim()})`,
        );
      }
      await sleep(300);
    }
  }

  /** Run a command inside the host (its root, mounts and PIDs; this machine's network). */
  exec(
    command: readonly string[],
    options: { timeoutMs?: number; input?: string } = {},
  ): Promise<ExecResult> {
    const pid = this.initPid;
    if (pid === undefined) return Promise.reject(new Error('boot host is not running'));
    return run('nsenter', ['-t', String(pid), '-m', '-p', '-r', '-w', '--', ...command], options);
  }

  /** Like exec, throwing with the command's output when it fails. */
  async sh(script: string, timeoutMs = 60_000): Promise<string> {
    const out = await this.exec(['/bin/bash', '-c', script], { timeoutMs });
    if (out.code !== 0)
      throw new Error(`\`${script}\` failed (${out.code}): ${out.stderr || out.stdout}`);
    return out.stdout;
  }

  /**
   * Run the launch template's user data as cloud-init does on the first boot: written to
   * /var/lib/cloud/instance/scripts/part-001 and run as root by a service of the host's
   * systemd (cloud-final.service there); resolves with the script's exit status.
   */
  async runUserData(userData: string, timeoutMs = 600_000): Promise<ExecResult> {
    const dir = join(this.root, 'var', 'lib', 'cloud', 'instance', 'scripts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'part-001'), userData, { mode: 0o700 });
    return this.exec(
      [
        'systemd-run',
        '--quiet',
        '--wait',
        '--collect',
        '--unit=cloud-final-user-data',
        '--property=TimeoutStartSec=infinity',
        '/var/lib/cloud/instance/scripts/part-001',
      ],
      { timeoutMs },
    );
  }

  /** A file of the host's disk (what it would read). */
  readFile(path: string): string {
    return readFileSync(join(this.root, path), 'utf8');
  }

  /** Shut down: systemd stops its units, then ends; its namespaces and /run go away. */
  async poweroff(timeoutMs = 60_000): Promise<void> {
    const child = this.unshareProcess;
    if (!child || this.initPid === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    await this.exec(['systemctl', '--no-block', 'poweroff'], { timeoutMs: 10_000 }).catch(
      () => undefined,
    );
    const timer = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), timeoutMs).unref(),
    );
    const outcome = await Promise.race([exited.then(() => 'exited' as const), timer]);
    if (outcome === 'timeout') {
      this.log(`systemd ${this.initPid} did not power off within ${timeoutMs} ms: killing it`);
      this.killInit();
      await exited;
    }
    this.initPid = undefined;
    this.unshareProcess = undefined;
    // systemd-shutdown, not knowing it runs in a container, remounted its "/" (this overlay)
    // read-only on the way out, as it would a real disk: attach the disk afresh (a new
    // overlay mount of the same layers), as the next boot of a machine finds it writable.
    this.unmountRoot();
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', this.overlayOptions(), this.root]);
  }

  private overlayOptions(): string {
    return `lowerdir=${this.lowerDir},upperdir=${join(this.workDir, 'upper')},workdir=${join(this.workDir, 'work')}`;
  }

  private unmountRoot(): void {
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        execFileSync('umount', [this.root], { stdio: 'ignore' });
        return;
      } catch {
        if (attempt === 19) {
          try {
            execFileSync('umount', ['-l', this.root], { stdio: 'ignore' });
          } catch {
            /* not mounted */
          }
        } else execFileSync('sleep', ['0.1']);
      }
    }
  }

  /** End everything (kill PID 1 of the namespace), unmount, remove the disk. */
  async destroy(): Promise<void> {
    const child = this.unshareProcess;
    this.killInit();
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        setTimeout(resolve, 10_000).unref();
      });
    }
    this.destroySync();
  }

  /** Synchronous teardown (process 'exit' hook): kill by PID, unmount (lazily if busy), remove. */
  destroySync(): void {
    this.killInit();
    this.initPid = undefined;
    this.unshareProcess = undefined;
    if (!live.has(this)) return;
    live.delete(this);
    this.unmountRoot();
    rmSync(this.workDir, { recursive: true, force: true, maxRetries: 3 });
  }

  private killInit(): void {
    // Killing a PID namespace's init ends every process in it (the kernel's SIGKILL).
    for (const pid of [this.initPid, this.unshareProcess?.pid]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** Direct children of a process (first one), from /proc. */
function childOf(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    const first = children.split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

async function waitForValue<T>(
  probe: () => T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Run a command on this machine with a bounded time; never rejects on a non-zero exit. */
export function run(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: { PATH, LANG: 'C.UTF-8' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    // A command that exits without reading its input makes the write fail with EPIPE: that is
    // its exit status's business (close above), not an uncaught stream error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
