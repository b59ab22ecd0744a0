import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HostValues, hostEnvironment } from '../config';
import { HaproxyStartError } from './errors';
import { startupFailureReason } from './reload-answer';
import { sendSocketCommand } from './unix-socket';

/**
 * Prove that HAProxy can start on a config file, which `haproxy -c` does not: it binds no
 * listener, so a port held by another process, or a limit only met at start, passes the check
 * and then stops HAProxy (issue 16). The trial runs the real binary in the foreground
 * (`haproxy -db -f <file>`) with the host's environment, except that the run and socket
 * directories (stats socket, server-state file, per-cluster unix sockets) are a private
 * temporary directory, so nothing of a running HAProxy is replaced. It waits for the master's
 * "Loading success." or for the trial's stats socket (`<run dir>/admin.sock`, as the template
 * names it) to answer `show info`, either of which means the worker is up with every listener
 * bound (the log line's wording may change between versions), then ends the trial's process
 * group by its pid.
 *
 * Pass conditions: "Loading success." within timeoutMs -> resolves. The process exits first
 * -> HaproxyStartError with HAProxy's own [ALERT] lines (e.g. `Binding [line 40] for proxy
 * aurora-orders: cannot bind socket (Address already in use) for [127.0.0.9:6000]`). Neither
 * in time -> HaproxyStartError naming the timeout.
 *
 * TCP listeners are bound with SO_REUSEPORT (HAProxy's default), so next to a running HAProxy
 * the trial shares its ports; the agent runs it there only after HAProxy already refused a
 * config (to learn why, on 2.6, whose reload answer carries no reason), when it fails at bind.
 */
export interface TrialStartOptions {
  binary: string;
  configPath: string;
  host: HostValues;
  timeoutMs: number;
}

export async function trialStart(options: TrialStartOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aurora-haproxy-trial-'));
  try {
    await run(options, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(options: TrialStartOptions, dir: string): Promise<void> {
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    ...hostEnvironment({ ...options.host, runDir: dir, socketDir: dir }),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(options.binary, ['-db', '-f', options.configPath], {
      env,
      detached: true, // its own process group: the master and its worker end together
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      // A master that ignores SIGTERM while starting is killed outright.
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }, 2_000).unref();
    };
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      clearInterval(poll);
      if (error) reject(error);
      else resolve();
    };
    let started = false;
    const succeed = () => {
      if (started || settled) return;
      started = true;
      // Resolve once the trial is gone: its listeners must be closed before anything else.
      child.once('close', () => settle());
      stop();
    };
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (/Loading success\./.test(output)) succeed();
    };
    const poll = setInterval(() => {
      sendSocketCommand(join(dir, 'admin.sock'), 'show info', 500)
        .then((info) => {
          if (info.includes('Pid:')) succeed();
        })
        .catch(() => {});
    }, 50);
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    timer = setTimeout(() => {
      stop();
      settle(
        new HaproxyStartError(
          `HAProxy did not finish starting on the config within ${options.timeoutMs} ms (trial start)`,
        ),
      );
    }, options.timeoutMs);
    child.on('error', (cause) =>
      settle(new HaproxyStartError(`cannot run ${options.binary}: ${cause.message}`, { cause })),
    );
    child.on('close', (code, signal) => {
      if (started) return; // handled by succeed()
      settle(
        new HaproxyStartError(
          `HAProxy cannot start on the config (exit ${code ?? signal}): ${startupFailureReason(output)}`,
        ),
      );
    });
  });
}
