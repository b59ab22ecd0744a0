import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { Log } from '@aurora-haproxy/contract/log';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PgbouncerAdmin, type PgbouncerAdminTarget } from '../pgbouncer/admin';
import { SecretApplyError, SecretFormatError } from './errors';
import { secretsManagerSource } from './source';
import { parseUserlist, renderUserlist } from './userlist';
import { replaceUserlistFile } from './userlist-file';
import { SecretWatcher } from './watcher';

/**
 * PgBouncer's client passwords follow the userlist secret: a new version that parses is
 * written to the auth_file (atomically) and PgBouncer RELOADs, which re-reads it and keeps
 * every client connection (new logins use the new passwords; connected clients and pooled
 * server connections stay). A version that does not parse, or that PgBouncer could not be told
 * about, leaves the file and PgBouncer as they were until a later poll succeeds.
 */
export interface UserlistRotationConfig {
  secretId: string;
  region?: string;
  path: string;
  pollMs: number;
}

export interface UserlistRotationDeps {
  log: Log;
  admin: PgbouncerAdminTarget;
  secretsManager?: Pick<SecretsManagerClient, 'send'>;
  /** Default: PgBouncer's admin console RELOAD. */
  reload?: () => Promise<void>;
}

export function createUserlistRotation(
  config: UserlistRotationConfig,
  deps: UserlistRotationDeps,
): SecretWatcher<string> {
  const client =
    deps.secretsManager ??
    // The endpoint comes from AWS_ENDPOINT_URL_SECRETS_MANAGER when set (the local stack).
    new SecretsManagerClient(config.region ? { region: config.region } : {});
  const admin = new PgbouncerAdmin(deps.admin);
  const reload = deps.reload ?? (() => admin.reload());
  // The file holds a version PgBouncer was not told about yet (a RELOAD failed).
  let reloadOwed = false;
  return new SecretWatcher<string>({
    name: 'userlist',
    source: secretsManagerSource(client, config.secretId),
    parse: (text) => {
      if (text === undefined) throw new SecretFormatError('has no SecretString');
      return renderUserlist(parseUserlist(text, deps.admin.user), deps.admin.user);
    },
    async apply(rendered, _versionId, first) {
      if (replaceUserlistFile(config.path, rendered)) reloadOwed = true;
      // At start the file may already be this version (user data wrote it): no RELOAD then.
      else if (first && !reloadOwed) return;
      try {
        await reload();
        reloadOwed = false;
      } catch (cause) {
        throw new SecretApplyError(`PgBouncer RELOAD failed: ${errorMessage(cause)}`, {
          cause,
        });
      }
    },
    intervalMs: config.pollMs,
    log: deps.log,
  });
}
