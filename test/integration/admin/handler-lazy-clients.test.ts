import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { clusterNotFound } from '@aurora-haproxy/test-support/rds-responses';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The deployed admin handler creates its RDS, Lambda, SSM and Auto Scaling clients through
 * loaders (dynamic import) on the actions that call them: each action still reaches its
 * service. The registry is DynamoDB Local (the handler's own client, pointed at it by the SDK's
 * AWS_ENDPOINT_URL_DYNAMODB); the services with no local implementation are mocked
 * (aws-sdk-client-mock patches the classes the loaders create).
 */
const ENV = {
  TABLE_NAME: 'registry',
  RECONCILE_FUNCTION_NAME: 'reconcile-fn',
  FLEET_ASG_NAME: 'fleet',
  // DynamoDB Local keeps one database per access key and region: those its tables use.
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
};
const saved: Record<string, string | undefined> = {};
const ddb = useDynamoDbLocal('registry');
const rds = mockClient(RDSClient);
const lambda = mockClient(LambdaClient);
const ssm = mockClient(SSMClient);
const autoScaling = mockClient(AutoScalingClient);

beforeAll(() => {
  for (const [k, v] of Object.entries(ENV)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  saved.AWS_ENDPOINT_URL_DYNAMODB = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = ddb().endpoint;
  delete process.env.HOST_REPORTS_TABLE;
  // What RDS answers for an unknown DBClusterIdentifier.
  rds.on(DescribeDBClustersCommand).rejects(clusterNotFound('db1'));
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  ssm.onAnyCommand().resolves({ CommandInvocations: [] });
  autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'fleet',
        Instances: [],
        MinSize: 0,
        MaxSize: 0,
        DesiredCapacity: 0,
        DefaultCooldown: 300,
        AvailabilityZones: ['us-east-1a'],
        HealthCheckType: 'EC2',
        CreatedTime: new Date(0),
      },
    ],
  });
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const m of [rds, lambda, ssm, autoScaling]) m.restore();
});

describe('admin handler: clients loaded by the actions that use them', () => {
  it('add checks the cluster with RDS (client loaded on the way)', async () => {
    // Prepare
    const { adminEvent } = await import('../../../functions/handlers/admin');
    // Act
    const result = await adminEvent({
      action: 'add',
      clusterId: 'db1',
      port: 7000,
      databases: [{ alias: 'app', dbname: 'app' }],
    });
    // Assess
    expect(result).toMatchObject({ ok: false, error: { code: 'RDS_CLUSTER_NOT_FOUND' } });
    expect(rds.commandCalls(DescribeDBClustersCommand)).toHaveLength(1);
  });

  it('reconcile-now invokes the reconcile function through Lambda', async () => {
    // Prepare
    const { adminEvent } = await import('../../../functions/handlers/admin');
    // Act
    const result = await adminEvent({ action: 'reconcile-now' });
    // Assess
    expect(result).toEqual({ ok: true, action: 'reconcile-now', reconcile: { triggered: true } });
    expect(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.FunctionName).toBe('reconcile-fn');
  });

  it('status reads the fleet through Auto Scaling', async () => {
    // Prepare
    const { adminEvent } = await import('../../../functions/handlers/admin');
    // Act
    const result = await adminEvent({ action: 'status' });
    // Assess
    expect(result).toMatchObject({ ok: true, action: 'status' });
    expect(autoScaling.commandCalls(DescribeAutoScalingGroupsCommand).length).toBeGreaterThan(0);
  });
});
