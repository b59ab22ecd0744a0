import { spawn } from 'node:child_process';
import { describeConfigCheckFailure } from './alerts';
import { HaproxyConfigError } from './errors';

/**
 * `haproxy -c -f <path>` on the exact bytes that will be deployed, with the same host
 * environment variables the running HAProxy has (the config references them as "${VAR}";
 * an unset variable expands to an empty string and could hide an error). The binary is a
 * parameter so tests can swap it.
 */
export async function validateConfig(
  binary: string,
  path: string,
  env: Readonly<Record<string, string>>,
  timeoutMs = 15_000,
): Promise<void> {
  const { code, output } = await run(
    binary,
    ['-c', '-f', path],
    { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    timeoutMs,
  );
  if (code !== 0) throw new HaproxyConfigError(describeConfigCheckFailure(output, code));
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (cause) => {
      clearTimeout(timer);
      reject(new HaproxyConfigError(`cannot run ${command}: ${cause.message}`, { cause }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}
