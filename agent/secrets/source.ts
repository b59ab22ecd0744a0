import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretReadError } from './errors';

/**
 * One read of a secret's current version (GetSecretValue, stage AWSCURRENT). The poll needs
 * both the VersionId (change detection) and the value (so a change costs no second call);
 * it is the one call the hosts' role already allows (iam/probe-secret.yml,
 * iam/userlist-policy.yml).
 */
export interface SecretVersion {
  versionId: string;
  text: string | undefined;
}

export interface SecretSource {
  readonly secretId: string;
  read(): Promise<SecretVersion>;
}

export function secretsManagerSource(
  client: Pick<SecretsManagerClient, 'send'>,
  secretId: string,
): SecretSource {
  return {
    secretId,
    async read() {
      let out: { VersionId?: string; SecretString?: string };
      try {
        out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
      } catch (cause) {
        const e = cause as { name?: string; message?: string };
        throw new SecretReadError(
          `cannot read secret ${secretId}: ${e.name ?? 'Error'}: ${(e.message ?? '').slice(0, 120)}`,
          { cause },
        );
      }
      if (!out.VersionId) throw new SecretReadError(`secret ${secretId}: answer has no VersionId`);
      return { versionId: out.VersionId, text: out.SecretString };
    },
  };
}
