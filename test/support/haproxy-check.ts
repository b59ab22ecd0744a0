import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_ENV } from '@aurora-haproxy/contract/host';

/**
 * Runs the real `haproxy -c -f <file>` on a config text, with the HOST_ENV variables the
 * config references set to a temp dir (or to the values given). The nameserver variable is
 * set (a loopback address), so the config takes its host-nameserver branch: server names get
 * their first address from HAProxy's resolvers at run time (`init-addr last,none`), never
 * from the machine's resolver during the check, so no check sends a DNS query anywhere. Shared by the render golden
 * tests and the registry fuzz test. A missing haproxy binary is an error, never a pass:
 * `.ci/setup` installs it.
 */
export type HostEnv = Record<(typeof HOST_ENV)[keyof typeof HOST_ENV], string>;

export interface HaproxyCheckResult {
  /** haproxy exited 0: the configuration is valid. */
  ok: boolean;
  exitCode: number;
  /** Everything haproxy printed (stdout + stderr). */
  output: string;
  /** The [WARNING] and [ALERT] lines, for assertions and failure messages. */
  problems: string[];
}

export const HAPROXY_BIN = process.env.HAPROXY_BIN ?? 'haproxy';

/** Creates socket/run/bin dirs under `dir` (and an empty server-state file) and returns the env. */
export function createHostEnv(dir: string, overrides: Partial<HostEnv> = {}): HostEnv {
  const env: HostEnv = {
    [HOST_ENV.listenAddress]: '127.0.0.1',
    [HOST_ENV.socketDir]: join(dir, 'sockets'),
    [HOST_ENV.runDir]: join(dir, 'run'),
    [HOST_ENV.checkPort]: '9876',
    [HOST_ENV.binDir]: join(dir, 'bin'),
    [HOST_ENV.availabilityZone]: '',
    [HOST_ENV.nameserver]: '127.0.0.1:53',
    ...overrides,
  } as HostEnv;
  for (const key of [HOST_ENV.socketDir, HOST_ENV.runDir, HOST_ENV.binDir] as const) {
    mkdirSync(env[key], { recursive: true });
  }
  // A server-state file with only its version line: haproxy -c then has nothing to warn about.
  writeFileSync(join(env[HOST_ENV.runDir], 'server-state'), '1\n');
  return env;
}

/**
 * @param env HOST_ENV values; when omitted a temp dir is created (and removed afterwards).
 * @throws Error when the haproxy binary cannot be run at all.
 */
export async function haproxyCheck(
  configText: string,
  env?: Partial<HostEnv>,
): Promise<HaproxyCheckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'haproxy-check-'));
  try {
    const hostEnv = createHostEnv(dir, env);
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, configText);
    return await runCheck(file, hostEnv);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runCheck(file: string, hostEnv: HostEnv): Promise<HaproxyCheckResult> {
  return new Promise((resolve, reject) => {
    execFile(
      HAPROXY_BIN,
      ['-c', '-f', file],
      {
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...hostEnv },
        timeout: 30_000,
      },
      (error, stdout, stderr) => {
        const spawnError = error as (NodeJS.ErrnoException & { code?: unknown }) | null;
        if (spawnError && typeof spawnError.code === 'string') {
          reject(
            new Error(
              `cannot run ${HAPROXY_BIN} (${spawnError.code}): HAProxy must be installed (bash .ci/setup)`,
              { cause: error },
            ),
          );
          return;
        }
        const output = `${stdout}${stderr}`;
        const exitCode = error ? Number(error.code ?? 1) : 0;
        resolve({
          ok: exitCode === 0,
          exitCode,
          output,
          problems: output.split('\n').filter((line) => /\[(WARNING|ALERT)\]/.test(line)),
        });
      },
    );
  });
}
