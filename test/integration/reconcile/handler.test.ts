import {
  asgInstance,
  autoScalingGroup,
  sentCommand,
} from '@aurora-haproxy/test-support/aws-fixtures';
import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { dbCluster, dbInstance } from '@aurora-haproxy/test-support/rds-fixtures';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnknownTriggerError } from '../../../functions/events/errors';
import { createReconcileHandler } from '../../../functions/handlers/reconcile';
import { RegistryStore } from '../../../functions/registry/store';
import { validateAdd } from '../../../functions/registry/validate';
import { clusterEvent } from '../../unit/events/rds-events';

/** The reconcile Lambda handler called in-process (middy + Powertools), clients injected. */
const TABLE = 'reconcile-handler';
const rdsMock = mockClient(RDSClient);
const ssmMock = mockClient(SSMClient);
const asgMock = mockClient(AutoScalingClient);
let dynamodb: DynamoDBClient;
const savedEnv = { ...process.env };
let handler: ReturnType<typeof createReconcileHandler>;

const context = {
  functionName: 'aurora-haproxy-reconcile',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:aurora-haproxy-reconcile',
  memoryLimitInMB: '256',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/aurora-haproxy-reconcile',
  logStreamName: '2026/11/26/[$LATEST]abcdef',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
} as Context;

const ddb = useDynamoDbLocal(TABLE);
beforeAll(async () => {
  dynamodb = ddb().client();
  await new RegistryStore(dynamodb, TABLE).add(
    validateAdd({
      clusterId: 'orders',
      port: 15432,
      databases: [{ alias: 'orders', dbname: 'orders' }],
    }),
  );
  Object.assign(process.env, {
    TABLE_NAME: TABLE,
    FLEET_ASG_NAME: 'fleet',
    SSM_DOCUMENT_NAME: 'aurora-haproxy-apply-bundle',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  });
  const clients = {
    dynamodb,
    rds: new RDSClient({ region: 'eu-west-1' }),
    ssm: new SSMClient({ region: 'eu-west-1' }),
    autoScaling: new AutoScalingClient({ region: 'eu-west-1' }),
  };
  handler = createReconcileHandler(() => clients);
  rdsMock.on(DescribeDBClustersCommand).resolves({
    DBClusters: [
      dbCluster('orders', [
        { id: 'orders-1', writer: true },
        { id: 'orders-2', writer: false },
      ]),
    ],
  });
  rdsMock.on(DescribeDBInstancesCommand).resolves({
    DBInstances: [dbInstance('orders-1', 'orders'), dbInstance('orders-2', 'orders')],
  });
  asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [autoScalingGroup('fleet', [asgInstance('i-0123456789abcdef0')])],
  });
  ssmMock.on(SendCommandCommand).callsFake((input) => ({
    Command: sentCommand('5a1e0d1c-0000-4000-8000-000000000001', input),
  }));
});
afterAll(async () => {
  process.env = savedEnv;
  dynamodb?.destroy();
});

describe('reconcile handler', () => {
  it('answers a direct admin invoke with a small summary', async () => {
    const result = await handler({ source: 'aurora-haproxy.admin', reason: 'add orders' }, context);
    expect(result).toMatchObject({ changed: true, delivered: 1, staleClusters: [], acted: true });
    expect(result.sha256).toMatch(/^[a-f0-9]{64}$/);
  });

  it('answers an RDS event for the same state with changed: false', async () => {
    const result = await handler(
      clusterEvent('RDS-EVENT-0071', 'orders', true, new Date().toISOString()),
      context,
    );
    expect(result).toMatchObject({ acted: true, changed: false, delivered: 0 });
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('rejects an event it does not know, naming it', async () => {
    await expect(
      handler({ source: 'aws.s3', 'detail-type': 'Object Created' }, context),
    ).rejects.toBeInstanceOf(UnknownTriggerError);
  });
});
