import { type ExecFileOptions, execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to completion; a non-zero exit is a result (code + output), not a throw. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: ExecFileOptions,
): Promise<CommandRun> {
  try {
    const { stdout, stderr } = await execFileAsync(command, [...args], {
      ...options,
      encoding: 'utf8',
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(error),
    };
  }
}
