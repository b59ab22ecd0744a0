import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsStandin } from '../../../../packages/local-stack/aws-standin/aws-standin';
import { requirePasswordFor } from '../../../../packages/local-stack/postgres-auth';

/** The real SDK client against the stand-in (what the hosts use, endpoint aside). */
export function secretsClient(standin: AwsStandin): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint: standin.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/** No Auto Scaling group: these tests use only the stand-in's Secrets Manager. */
export const NO_FLEET = { groupName: 'none', minSize: 0, maxSize: 0, instances: () => [] };

/** Every node asks `role` for its password (packages/local-stack/postgres-auth.ts). */
export const requirePassword = requirePasswordFor;
