import { unlinkSync } from 'node:fs';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { AgentConfig } from '../config';
import { haproxyRunFiles } from '../config';
import { formatServersState, parseServersState } from '../haproxy/servers-state';
import { atomicWriteFile } from '../state/atomic-write';
import type { ApplyDeps } from './apply-types';

/**
 * Dump `show servers state`, transform it, write the server-state file atomically. Throws
 * when the file cannot be written: the callers undo or do not reload.
 */
export async function writeServerStateFile(
  deps: ApplyDeps,
  transform: (dump: ReturnType<typeof parseServersState>) => ReturnType<typeof parseServersState>,
): Promise<void> {
  const { serverStateFile } = haproxyRunFiles(deps.config);
  let dump: ReturnType<typeof parseServersState>;
  try {
    dump = parseServersState(await deps.runtime.dumpServersState());
  } catch (error) {
    // No dump: a stale file could put old ports on servers; without one, checks decide.
    deps.log?.(`no servers state dump (${errorMessage(error)}); removing the server-state file`);
    removeServerStateFile(deps.config);
    return;
  }
  atomicWriteFile(serverStateFile, formatServersState(transform(dump)), 0o600);
}

/** Remove the server-state file; throws when it stays (a stale one must not be loaded). */
export function removeServerStateFile(config: AgentConfig): void {
  try {
    unlinkSync(haproxyRunFiles(config).serverStateFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
