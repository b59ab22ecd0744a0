import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Count the processes a running process (all its threads) creates during a window, with
 * strace attached only to the process-creation syscalls (seccomp-bpf filter, so the traced
 * process runs at full speed between forks). Threads are not created by HAProxy after start,
 * so every clone is a fork.
 */
export async function countForks(pid: number, seconds: number): Promise<number> {
  const tids = readdirSync(`/proc/${pid}/task`);
  const args = [
    '-f',
    '-qq',
    '--seccomp-bpf',
    '-e',
    'trace=fork,vfork,clone,clone3',
    '-e',
    'signal=none',
    ...tids.flatMap((t) => ['-p', t]),
  ];
  const { stderr } = await execFileAsync(
    'timeout',
    ['-s', 'INT', String(seconds), 'strace', ...args],
    {
      maxBuffer: 16 << 20,
    },
  ).catch((error: { stderr?: string; code?: number }) => {
    // timeout exits 124 when it ended strace, which is the normal way out here.
    if (error.stderr !== undefined) return { stderr: error.stderr };
    throw error;
  });
  // Only the traced process's own forks: lines from followed children start with "[pid N]".
  return stderr
    .split('\n')
    .filter(
      (l) =>
        /^(?:\[pid\s+\d+\]\s+)?(?:clone3?|v?fork)\(/.test(l) &&
        !/= -1/.test(l) &&
        !/\?/.test(l.split('=').pop() ?? ''),
    ).length;
}

/** Processes created while running `command args` to completion (the command itself excluded). */
export async function forksOfCommand(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<number> {
  const { stderr } = await execFileAsync(
    'strace',
    [
      '-f',
      '-qq',
      '--seccomp-bpf',
      '-e',
      'trace=fork,vfork,clone,clone3',
      '-e',
      'signal=none',
      '/usr/bin/env',
      '-i',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      command,
      ...args,
    ],
    { maxBuffer: 16 << 20 },
  ).catch((error: { stderr?: string }) => {
    if (error.stderr !== undefined) return { stderr: error.stderr };
    throw error;
  });
  return stderr.split('\n').filter((l) => /(?:clone3?|v?fork)\(/.test(l) && !/resumed/.test(l))
    .length;
}
