import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AwsStandin,
  startAwsStandin,
} from '../../../packages/local-stack/aws-standin/aws-standin';

/**
 * The Secrets Manager stand-in through the real SDK client: versions, staging labels moved as
 * AWS moves them (PutSecretValue: new AWSCURRENT, old one AWSPREVIOUS), idempotent client
 * request tokens, AWS's error types, throttling that the SDK retries.
 */
let standin: AwsStandin;
let client: SecretsManagerClient;

describe('Secrets Manager stand-in', () => {
  beforeAll(async () => {
    standin = await startAwsStandin({ fleet: emptyFleet(), documents: [] });
    client = new SecretsManagerClient({
      endpoint: standin.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 3,
    });
  });
  afterAll(async () => {
    client?.destroy();
    await standin?.close();
  });

  it('creates, reads and rotates a secret with AWS staging labels', async () => {
    // Prepare
    const created = await client.send(
      new CreateSecretCommand({ Name: 'app/userlist', SecretString: '"app" "one"' }),
    );

    // Act
    const put = await client.send(
      new PutSecretValueCommand({ SecretId: 'app/userlist', SecretString: '"app" "two"' }),
    );
    const current = await client.send(new GetSecretValueCommand({ SecretId: 'app/userlist' }));
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: created.ARN, VersionStage: 'AWSPREVIOUS' }),
    );
    const described = await client.send(new DescribeSecretCommand({ SecretId: 'app/userlist' }));

    // Assess
    expect(created.ARN).toMatch(
      /^arn:aws:secretsmanager:us-east-1:\d{12}:secret:app\/userlist-\w{6}$/,
    );
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    expect(current).toMatchObject({ VersionId: put.VersionId, SecretString: '"app" "two"' });
    expect(current.CreatedDate).toBeInstanceOf(Date);
    expect(previous).toMatchObject({
      VersionId: created.VersionId,
      SecretString: '"app" "one"',
      VersionStages: ['AWSPREVIOUS'],
    });
    expect(described.VersionIdsToStages).toEqual({
      [created.VersionId as string]: ['AWSPREVIOUS'],
      [put.VersionId as string]: ['AWSCURRENT'],
    });
  });

  it('a version staged AWSPENDING is not what GetSecretValue returns by default', async () => {
    // Prepare
    const pending = await client.send(
      new PutSecretValueCommand({
        SecretId: 'app/userlist',
        SecretString: '"app" "three"',
        VersionStages: ['AWSPENDING'],
      }),
    );

    // Act
    const current = await client.send(new GetSecretValueCommand({ SecretId: 'app/userlist' }));
    const byStage = await client.send(
      new GetSecretValueCommand({ SecretId: 'app/userlist', VersionStage: 'AWSPENDING' }),
    );

    // Assess
    expect(current.SecretString).toBe('"app" "two"');
    expect(byStage.VersionId).toBe(pending.VersionId);
  });

  it('answers AWS errors: missing secret, reused token with another value; retries throttling', async () => {
    // Prepare
    const token = '11111111-2222-3333-4444-555555555555';
    await client.send(
      new PutSecretValueCommand({
        SecretId: 'app/userlist',
        SecretString: 'x',
        ClientRequestToken: token,
      }),
    );
    standin.secrets.faults.set({ kind: 'throttle', calls: 1, actions: ['GetSecretValue'] });
    standin.secrets.faults.resetCounts();

    // Act + Assess
    await expect(
      client.send(new GetSecretValueCommand({ SecretId: 'missing' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      client.send(
        new PutSecretValueCommand({
          SecretId: 'app/userlist',
          SecretString: 'y',
          ClientRequestToken: token,
        }),
      ),
    ).rejects.toBeInstanceOf(ResourceExistsException);
    const again = await client.send(
      new PutSecretValueCommand({
        SecretId: 'app/userlist',
        SecretString: 'x',
        ClientRequestToken: token,
      }),
    );
    expect(again.VersionId).toBe(token);
    const read = await client.send(new GetSecretValueCommand({ SecretId: 'app/userlist' }));
    expect(read.SecretString).toBe('x');
    // The missing secret's call was throttled once and retried by the SDK.
    expect(standin.secrets.faults.calls().GetSecretValue).toBe(3);
  });
});

function emptyFleet() {
  return {
    groupName: 'none',
    minSize: 0,
    maxSize: 0,
    instances: () => [],
  };
}
