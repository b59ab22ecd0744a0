import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { auroraCluster } from '@aurora-haproxy/test-support/rds-responses';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaReconcileTrigger } from '../../../functions/admin/lambda-reconcile-trigger';
import { runCli } from '../../../functions/cli/main';
import { createAdminHandler } from '../../../functions/handlers/admin';
import { RegistryStore } from '../../../functions/registry/store';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { silentLog } from '../../../functions/shared/observability';
import {
  type LambdaStandin,
  LocalFunctions,
  type LocalHandler,
  startLambdaStandin,
} from '../../../packages/local-stack/aws-standin/lambda-standin';

/**
 * The CLI's default path: `aurora-haproxy` -> Lambda Invoke (real SDK client, the Lambda
 * stand-in's wire protocol) -> the admin handler -> DynamoDB Local, and the admin's
 * asynchronous invoke of the reconcile function back through the stand-in.
 */
const rdsMock = mockClient(RDSClient);

describe('aurora-haproxy -> admin Lambda -> registry', () => {
  let standin: LambdaStandin;
  const functions = new LocalFunctions();
  const reconcileEvents: unknown[] = [];
  let env: NodeJS.ProcessEnv;

  const ddb = useDynamoDbLocal('admin-lambda');
  beforeAll(async () => {
    standin = await startLambdaStandin(functions);
    const lambda = new LambdaClient({
      endpoint: standin.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const deps = {
      registry: new RegistryStore(ddb().client(), 'admin-lambda'),
      rds: new RDSClient({ region: 'us-east-1' }),
      triggerReconcile: lambdaReconcileTrigger(lambda, 'reconcile'),
      readStatus: async () => ({ desired: null }),
      reservedPorts: DEFAULT_RESERVED,
      log: silentLog,
    };
    functions.register('admin', createAdminHandler(() => deps) as LocalHandler, {
      concurrency: 4,
    });
    functions.register('reconcile', (async (event: unknown) => {
      reconcileEvents.push(event);
      return { acted: true };
    }) as LocalHandler);
    env = {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_LAMBDA: standin.endpoint,
      AURORA_HAPROXY_ADMIN_FUNCTION: 'admin',
    };
  });
  afterAll(async () => {
    await functions.idle();
    await standin?.close();
  });

  const cli = async (...argv: string[]) => {
    const out = { stdout: '', stderr: '' };
    const code = await runCli(argv, {
      env,
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
    });
    return { code, ...out };
  };

  it('adds through the admin Lambda, which requests a reconcile', async () => {
    // Prepare
    rdsMock.on(DescribeDBClustersCommand).resolves({
      DBClusters: [
        auroraCluster('orders', [
          { id: 'orders-1', writer: true },
          { id: 'orders-2', writer: false },
        ]),
      ],
    });

    // Act
    const added = await cli('clusters', 'add', 'orders', '--port', '15432', '--db', 'orders');
    await functions.idle();
    const listed = await cli('--json', 'clusters', 'list');

    // Assess
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('reconcile requested');
    expect(reconcileEvents).toEqual([{ source: 'aurora-haproxy.admin', reason: 'add orders' }]);
    expect(JSON.parse(listed.stdout).clusters).toEqual([
      expect.objectContaining({ clusterId: 'orders', port: 15432 }),
    ]);
  });

  it('carries typed failures back through the Lambda with exit code 1', async () => {
    // Act
    const invalid = await cli('clusters', 'add', 'x', '--port', '8404', '--db', 'x', '--force');
    const missingFunction = await cli('--function-name', 'nope', 'clusters', 'list');

    // Assess
    expect(invalid).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error [VALIDATION_FAILED]:\n  port: 8404 is reserved for the HAProxy stats page\n',
    });
    expect(missingFunction.code).toBe(1);
    expect(missingFunction.stderr).toMatch(
      /^error \[ADMIN_UNREACHABLE\]: could not invoke nope: ResourceNotFoundException/,
    );
  });
});
