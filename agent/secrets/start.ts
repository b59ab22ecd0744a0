import type { Log } from '@aurora-haproxy/contract/log';
import type { AgentConfig } from '../config';
import { createUserlistRotation } from './userlist-rotation';
import type { SecretWatcher } from './watcher';

/** The serve command's userlist rotation, when the agent config names a userlist secret. */
export function startUserlistRotation(
  config: AgentConfig,
  log: Log,
): SecretWatcher<string> | undefined {
  const userlist = config.pgbouncer.userlist;
  if (!userlist) return undefined;
  const watcher = createUserlistRotation(userlist, { log, admin: config.pgbouncer.admin });
  void watcher.start();
  return watcher;
}
