import { silentLog } from '@aurora-haproxy/contract/log';
import type { AgentConfig } from '../config';
import { createCredentialsProvider } from '../health/credentials';
import { ProbeSecretCredentials } from './probe-rotation';
import type { WatchedSecretStatus } from './status';
import { createUserlistRotation } from './userlist-rotation';

/**
 * `aurora-haproxy-agent secrets-sync` (user data, before PgBouncer and the daemon start):
 * read the secrets this host follows once, with the daemon's own parsers, so a boot and a
 * rotation accept exactly the same secrets. The userlist secret is written to PgBouncer's
 * auth_file (no RELOAD: PgBouncer is not running yet); the probe secret is only read and
 * checked. `ok: false` names each secret that does not parse or cannot be read (the boot
 * then ends in ABANDON); the result never holds a value.
 */
export interface SecretsSyncResult {
  ok: boolean;
  secrets: WatchedSecretStatus[];
}

export async function syncSecretsOnce(config: AgentConfig): Promise<SecretsSyncResult> {
  const statuses: WatchedSecretStatus[] = [];
  const { userlist } = config.pgbouncer;
  if (userlist) {
    const watcher = createUserlistRotation(userlist, {
      log: silentLog,
      admin: config.pgbouncer.admin,
      reload: async () => undefined,
    });
    await watcher.pollNow();
    statuses.push(watcher.status());
  }
  if (config.health.credentials.mode === 'secret') {
    const probe = createCredentialsProvider(config.health.credentials) as ProbeSecretCredentials;
    if (probe instanceof ProbeSecretCredentials) {
      await probe.watcher.pollNow();
      statuses.push(probe.watcher.status());
    }
  }
  const ok = statuses.every((s) => s.versionId !== null && s.error === undefined);
  return { ok, secrets: statuses };
}
