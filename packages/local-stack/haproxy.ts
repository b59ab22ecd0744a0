import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { type HostValues, hostEnvironment } from '../../agent/config';
import { HaproxyMasterCli, type ProcList } from '../../agent/haproxy/master-cli';
import { HaproxyRuntimeApi } from '../../agent/haproxy/runtime-api';
import { startProcess } from './process/managed-process';
import { waitFor } from './process/wait';

/**
 * The machine's HAProxy (2.6 on Debian 12, 3.0 on Debian 13) for tests and the local stack:
 * master-worker mode in the foreground (`haproxy -W -S <dir>/master.sock -f <cfg>`) under
 * startProcess (its own process group, ended by PID), with the HOST_ENV variables of one
 * simulated host. The config file must exist (a rendered bundle, e.g. with no clusters).
 */
export const HAPROXY_BINARY = '/usr/sbin/haproxy';

export interface LocalHaproxyOptions {
  /** Directory of master.sock and the log. */
  dir: string;
  configPath: string;
  host: HostValues;
  binary?: string;
  timeoutMs?: number;
}

export interface LocalHaproxy {
  pid: number;
  masterSocket: string;
  statsSocket: string;
  serverStateFile: string;
  logFile: string;
  /** HOST_ENV name -> value, as the running HAProxy has them. */
  env: Record<string, string>;
  master: HaproxyMasterCli;
  runtime: HaproxyRuntimeApi;
  showProc(): Promise<ProcList>;
  running(): boolean;
  stop(): Promise<void>;
}

/** Host directories under `dir` for one simulated host (created; socket dir open to PgBouncer). */
export function localHostValues(
  dir: string,
  listenAddress: string,
  checkPort: number,
  availabilityZone = '',
  nameserver?: string,
): HostValues {
  const host: HostValues = {
    listenAddress,
    socketDir: join(dir, 'sockets'),
    runDir: join(dir, 'run'),
    checkPort,
    binDir: join(dir, 'bin'),
    availabilityZone,
    ...(nameserver !== undefined ? { nameserver } : {}),
  };
  for (const path of [host.socketDir, host.runDir, host.binDir])
    mkdirSync(path, { recursive: true });
  return host;
}

export async function startLocalHaproxy(options: LocalHaproxyOptions): Promise<LocalHaproxy> {
  mkdirSync(options.dir, { recursive: true });
  if (!existsSync(options.configPath)) {
    throw new Error(`HAProxy config ${options.configPath} does not exist`);
  }
  const masterSocket = join(options.dir, 'master.sock');
  const statsSocket = join(options.host.runDir, 'admin.sock');
  const logFile = join(options.dir, 'haproxy.log');
  const env = hostEnvironment(options.host);
  const proc = startProcess({
    name: 'haproxy',
    command: options.binary ?? HAPROXY_BINARY,
    args: ['-W', '-S', masterSocket, '-f', options.configPath],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin', ...env },
    logFile,
  });
  const master = new HaproxyMasterCli(masterSocket, { retryForMs: 0 });
  const runtime = new HaproxyRuntimeApi(statsSocket);
  try {
    await waitFor(
      'HAProxy master and worker to answer',
      async () => {
        if (!proc.running) throw new Error(`HAProxy exited: ${tail(logFile)}`);
        const procs = await master.showProcOnce();
        if (procs.workers.length === 0) return false;
        await runtime.command('show info');
        return true;
      },
      { timeoutMs: options.timeoutMs ?? 10_000, intervalMs: 50 },
    );
  } catch (error) {
    await proc.stop();
    throw new Error(`HAProxy did not start: ${errorMessage(error)}; log: ${tail(logFile)}`, {
      cause: error,
    });
  }
  return {
    pid: proc.pid,
    masterSocket,
    statsSocket,
    serverStateFile: join(options.host.runDir, 'server-state'),
    logFile,
    env,
    master: new HaproxyMasterCli(masterSocket),
    runtime,
    showProc: () => new HaproxyMasterCli(masterSocket).showProc(),
    running: () => proc.running,
    stop: () => proc.stop(),
  };
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}
