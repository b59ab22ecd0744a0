import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { keys } from '@aurora-haproxy/contract/table';
import {
  asgInstance,
  autoScalingGroup,
  sentCommand,
} from '@aurora-haproxy/test-support/aws-fixtures';
import { dbCluster, dbInstance } from '@aurora-haproxy/test-support/rds-fixtures';
import { RecordingMetrics } from '@aurora-haproxy/test-support/recording';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { reconcileDeps, statusDeps } from '../../../functions/reconcile/wiring';
import { RegistryStore } from '../../../functions/registry/store';
import { validateAdd } from '../../../functions/registry/validate';
import { silentLog } from '../../../functions/shared/observability';
import { BundleStore } from '../../../functions/state/bundle-store';
import { DesiredPointerStore } from '../../../functions/state/desired-pointer';

/**
 * Reconcile against a real DynamoDB Local table; RDS, SSM and Auto Scaling mocked in their
 * documented response shapes (no local implementation of those APIs runs in-process).
 * `truth` is what RDS says: per cluster, its members (the first is the writer).
 */
export const GROUP = 'aurora-haproxy-fleet';
export const FLEET = ['i-0a1b2c3d4e5f60001', 'i-0a1b2c3d4e5f60002', 'i-0a1b2c3d4e5f60003'];

export interface ReconcileBench {
  rds: AwsClientStub<RDSClient>;
  ssm: AwsClientStub<SSMClient>;
  truth: Map<string, string[]>;
  deps(): ReturnType<typeof makeDeps>;
  addCluster(clusterId: string, port: number): Promise<void>;
  desiredBundle(): Promise<Bundle | undefined>;
  /** Instance ids the desired bundle serves for a cluster. */
  served(clusterId: string): Promise<string[]>;
}

function makeDeps(dynamodb: DynamoDBClient, table: string) {
  const metrics = new RecordingMetrics();
  const clients = {
    dynamodb,
    rds: new RDSClient({ region: 'eu-west-1', maxAttempts: 1 }),
    ssm: new SSMClient({ region: 'eu-west-1', maxAttempts: 1 }),
    autoScaling: new AutoScalingClient({ region: 'eu-west-1', maxAttempts: 1 }),
  };
  const env = { TABLE_NAME: table, FLEET_ASG_NAME: GROUP, SSM_DOCUMENT_NAME: 'apply-bundle' };
  return {
    deps: reconcileDeps(clients, env, silentLog, metrics),
    status: statusDeps(clients, env, silentLog),
    metrics,
  };
}

/** RDS answers built from `truth` (filtered by the db-cluster-id values asked for). */
export function truthfulRds(truth: Map<string, string[]>) {
  const clustersOf = (ids: string[]): DBCluster[] =>
    ids.flatMap((id) => {
      const members = truth.get(id);
      return members
        ? [
            dbCluster(
              id,
              members.map((m, i) => ({ id: m, writer: i === 0 })),
            ),
          ]
        : [];
    });
  const instancesOf = (ids: string[]): DBInstance[] =>
    ids.flatMap((id) => (truth.get(id) ?? []).map((m) => dbInstance(m, id)));
  const filterValues = (input: { Filters?: { Values?: string[] }[] }) =>
    input.Filters?.[0]?.Values ?? [];
  return { clustersOf, instancesOf, filterValues };
}

export function reconcileBench(dynamodb: DynamoDBClient, table: string): ReconcileBench {
  const rds = mockClient(RDSClient);
  const ssm = mockClient(SSMClient);
  const asg = mockClient(AutoScalingClient);
  const truth = new Map<string, string[]>();
  const answers = truthfulRds(truth);
  let seq = 0;
  rds
    .on(DescribeDBClustersCommand)
    .callsFake((input) => ({ DBClusters: answers.clustersOf(answers.filterValues(input)) }));
  rds
    .on(DescribeDBInstancesCommand)
    .callsFake((input) => ({ DBInstances: answers.instancesOf(answers.filterValues(input)) }));
  asg.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      autoScalingGroup(
        GROUP,
        FLEET.map((id) => asgInstance(id)),
      ),
    ],
  });
  ssm.on(SendCommandCommand).callsFake((input) => ({
    Command: sentCommand(`7f0c1a2b-0000-4000-8000-${String(++seq).padStart(12, '0')}`, input),
  }));
  const registry = new RegistryStore(dynamodb, table);
  const pointer = new DesiredPointerStore(dynamodb, table);
  const bundles = new BundleStore(dynamodb, table);
  const bench: ReconcileBench = {
    rds,
    ssm,
    truth,
    deps: () => makeDeps(dynamodb, table),
    async addCluster(clusterId, port) {
      await registry.add(
        validateAdd({
          clusterId,
          port,
          databases: [{ alias: clusterId.replace(/-/g, '_'), dbname: clusterId }],
        }),
      );
    },
    async desiredBundle() {
      const desired = await pointer.read();
      return desired ? bundles.get(desired.sha256) : undefined;
    },
    async served(clusterId) {
      const bundle = await bench.desiredBundle();
      const cluster = bundle?.clusters.find((c) => c.clusterId === clusterId);
      return (cluster?.servers ?? []).map((s) => s.instanceId).sort();
    },
  };
  return bench;
}

/** A promise and the function that resolves it (a gate a test opens). */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Overwrite a stored bundle's body with bytes that are not gzip (a corrupted item). */
export async function corruptBundle(dynamodb: DynamoDBClient, table: string, sha: string) {
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: keys.bundle(sha).pk }, sk: { S: 'BUNDLE' } },
      UpdateExpression: 'SET body = :b',
      ExpressionAttributeValues: { ':b': { B: Buffer.from('not gzip at all') } },
    }),
  );
}
