import { readFileSync } from 'node:fs';

/**
 * A process is identified by its pid AND its start time (field 22 of /proc/<pid>/stat, in
 * clock ticks since boot), so a pid reused by an unrelated process after a crash is not
 * mistaken for the lock holder. Where /proc is missing, only the pid is compared.
 */
export interface ProcessIdentity {
  pid: number;
  startTime?: string;
}

export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return afterName[19]; // field 22 overall = index 19 after fields 1-2
  } catch {
    return undefined;
  }
}

export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function currentProcessIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: processStartTime(process.pid) };
}

/** What the system says about a pid now: used by the staleness decision. */
export interface ProcessProbe {
  exists(pid: number): boolean;
  startTime(pid: number): string | undefined;
}

export const systemProcessProbe: ProcessProbe = { exists: pidExists, startTime: processStartTime };
