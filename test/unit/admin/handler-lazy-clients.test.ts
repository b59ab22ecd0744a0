import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientOf, loadOnce } from '../../../functions/admin/client-source';

/**
 * The deployed admin handler creates its RDS, Lambda, SSM and Auto Scaling clients through
 * loaders (dynamic import) on the actions that call them: each action still reaches its
 * service. Every client is mocked (aws-sdk-client-mock patches the classes the loaders create).
 */
const ENV = {
  TABLE_NAME: 'registry',
  RECONCILE_FUNCTION_NAME: 'reconcile-fn',
  FLEET_ASG_NAME: 'fleet',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
};
const saved: Record<string, string | undefined> = {};
const dynamodb = mockClient(DynamoDBClient);
const documents = mockClient(DynamoDBDocumentClient);
const rds = mockClient(RDSClient);
const lambda = mockClient(LambdaClient);
const ssm = mockClient(SSMClient);
const autoScaling = mockClient(AutoScalingClient);

beforeAll(() => {
  for (const [k, v] of Object.entries(ENV)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  delete process.env.HOST_REPORTS_TABLE;
  dynamodb.onAnyCommand().resolves({ Items: [], Count: 0 });
  documents.onAnyCommand().resolves({ Items: [], Count: 0 });
  rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [] });
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
        AvailabilityZones: ['eu-west-1a'],
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
  for (const m of [dynamodb, documents, rds, lambda, ssm, autoScaling]) m.restore();
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

describe('client sources', () => {
  it('a loader runs once, and again after a failed load', async () => {
    // Prepare
    let calls = 0;
    const load = loadOnce(async () => {
      calls += 1;
      if (calls === 1) throw new Error('first load fails');
      return { n: calls };
    });
    // Act / Assess
    await expect(clientOf(load)).rejects.toThrow('first load fails');
    expect(await clientOf(load)).toEqual({ n: 2 });
    expect(await clientOf(load)).toEqual({ n: 2 });
    expect(calls).toBe(2);
  });

  it('a client given as is is answered as is', async () => {
    const client = { send: () => undefined };
    expect(await clientOf(client)).toBe(client);
  });
});
