import {
  agentLine,
  asgInstance,
  autoScalingGroup,
  invocation,
  sentCommand,
} from '@aurora-haproxy/test-support/aws-fixtures';
import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { dbCluster, dbInstance } from '@aurora-haproxy/test-support/rds-fixtures';
import { RecordingMetrics } from '@aurora-haproxy/test-support/recording';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { ListCommandInvocationsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrigger } from '../../../functions/events/parse-trigger';
import { reconcile } from '../../../functions/reconcile/reconcile';
import { readStatus } from '../../../functions/reconcile/status';
import { reconcileDeps, statusDeps } from '../../../functions/reconcile/wiring';
import { RegistryStore } from '../../../functions/registry/store';
import { validateAdd } from '../../../functions/registry/validate';
import { silentLog } from '../../../functions/shared/observability';
import { DesiredPointerStore } from '../../../functions/state/desired-pointer';
import { clusterEvent, instanceEvent, SCHEDULED_EVENT } from '../../unit/events/rds-events';

/**
 * Reconcile against a real DynamoDB Local (registry, bundles, desired pointer with CAS,
 * topology cache, delivery records) with RDS, SSM and Auto Scaling mocked in their
 * documented response shapes.
 */
const TABLE = 'reconcile-storm';
const GROUP = 'aurora-haproxy-fleet';
const FLEET = ['i-0a1b2c3d4e5f60001', 'i-0a1b2c3d4e5f60002', 'i-0a1b2c3d4e5f60003'];
const rdsMock = mockClient(RDSClient);
const ssmMock = mockClient(SSMClient);
const asgMock = mockClient(AutoScalingClient);
let members = ['orders-1', 'orders-2', 'orders-3'];
let commandSeq = 0;

function rdsAnswers() {
  rdsMock.on(DescribeDBClustersCommand).callsFake(() => ({
    DBClusters: [
      dbCluster(
        'orders',
        members.map((id, i) => ({ id, writer: i === 0 })),
      ),
    ],
  }));
  rdsMock.on(DescribeDBInstancesCommand).callsFake(() => ({
    DBInstances: members.map((id) => dbInstance(id, 'orders')),
  }));
}

let dynamodb: DynamoDBClient;

function deps() {
  const metrics = new RecordingMetrics();
  const clients = {
    dynamodb,
    rds: new RDSClient({ region: 'eu-west-1' }),
    ssm: new SSMClient({ region: 'eu-west-1' }),
    autoScaling: new AutoScalingClient({ region: 'eu-west-1' }),
  };
  const env = {
    TABLE_NAME: TABLE,
    FLEET_ASG_NAME: GROUP,
    SSM_DOCUMENT_NAME: 'aurora-haproxy-apply-bundle',
  };
  return {
    deps: reconcileDeps(clients, env, silentLog, metrics),
    status: statusDeps(clients, env, silentLog),
    metrics,
  };
}

async function storedBundles(): Promise<number> {
  const out = await ddb()
    .client()
    .send(
      new ScanCommand({
        TableName: TABLE,
        FilterExpression: 'begins_with(pk, :b)',
        ExpressionAttributeValues: { ':b': { S: 'BUNDLE#' } },
      }),
    );
  return out.Items?.length ?? 0;
}

/** Run `tasks` with at most `limit` in flight (concurrent Lambda invocations). */
async function pool<T>(
  count: number,
  limit: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

const ddb = useDynamoDbLocal(TABLE);
beforeAll(async () => {
  dynamodb = ddb().client();
  await new RegistryStore(ddb().client(), TABLE).add(
    validateAdd({
      clusterId: 'orders',
      port: 15432,
      databases: [{ alias: 'orders', dbname: 'orders' }],
    }),
  );
  rdsAnswers();
  asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      autoScalingGroup(
        GROUP,
        FLEET.map((id) => asgInstance(id)),
      ),
    ],
  });
  ssmMock.on(SendCommandCommand).callsFake((input) => ({
    Command: sentCommand(
      `7f0c1a2b-0000-4000-8000-${String(++commandSeq).padStart(12, '0')}`,
      input,
    ),
  }));
});
afterAll(async () => {
  dynamodb?.destroy();
});

describe('reconcile against DynamoDB Local', () => {
  it('publishes and delivers the first bundle once', async () => {
    // Act
    const { deps: d } = deps();
    const summary = await reconcile(
      d,
      parseTrigger({ source: 'aurora-haproxy.admin', reason: 'add orders' }),
    );

    // Assess
    expect(summary).toMatchObject({ changed: true, delivered: 3, rdsCalls: 2, staleClusters: [] });
    expect(await storedBundles()).toBe(1);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('a storm of 1000 events for one change yields exactly one new bundle and one SSM command', async () => {
    // Prepare: a new reader joins; RDS emits events for it and its cluster, many times over
    members = [...members, 'orders-4'];
    const at = new Date().toISOString();
    const events = Array.from({ length: 1000 }, (_, i) =>
      i % 2 === 0
        ? instanceEvent('RDS-EVENT-0005', 'orders-4', false, at)
        : clusterEvent('RDS-EVENT-0071', 'orders', true, at),
    );
    const sentBefore = ssmMock.commandCalls(SendCommandCommand).length;
    const rdsBefore = rdsMock.calls().length;
    const started = Date.now();

    // Act: each event is one reconcile; 16 run at once (as if concurrency were not reserved)
    const summaries = await pool(events.length, 16, async (i) => {
      const { deps: d } = deps();
      return reconcile(d, parseTrigger(events[i]));
    });
    const elapsedMs = Date.now() - started;

    // Assess
    expect(summaries.filter((s) => s.changed)).toHaveLength(1);
    expect(await storedBundles()).toBe(2);
    const sent = ssmMock.commandCalls(SendCommandCommand).slice(sentBefore);
    expect(sent).toHaveLength(1);
    const pointer = await new DesiredPointerStore(ddb().client(), TABLE).read();
    expect(pointer?.version).toBe(2);
    expect(sent[0]?.args[0].input.Parameters).toEqual({ sha256: [pointer?.sha256] });
    expect(new Set(summaries.filter((s) => s.acted).map((s) => s.sha256))).toEqual(
      new Set([pointer?.sha256]),
    );
    const rdsCalls = rdsMock.calls().length - rdsBefore;
    const covered = summaries.filter((s) => !s.acted).length;
    console.log(
      `storm: 1000 reconciles (16 concurrent) in ${elapsedMs} ms; 1 bundle, 1 SSM command; ${rdsCalls} RDS calls, ${covered} events covered by an earlier look`,
    );
    expect(rdsCalls).toBe(2 * (1000 - covered));
  });

  it('ignores events for unregistered clusters without calling RDS', async () => {
    // Prepare
    const callsBefore = rdsMock.calls().length;
    const { deps: d } = deps();

    // Act
    const summary = await reconcile(d, parseTrigger(clusterEvent('RDS-EVENT-0071', 'payroll')));

    // Assess
    expect(summary.acted).toBe(false);
    expect(rdsMock.calls().length).toBe(callsBefore);
  });

  it('on the schedule, an unchanged registry and topology send nothing when every host applied it', async () => {
    // Prepare: every instance reports the desired sha
    const pointer = await new DesiredPointerStore(ddb().client(), TABLE).read();
    const sha = pointer?.sha256 ?? '';
    ssmMock.on(ListCommandInvocationsCommand).callsFake((input) => ({
      CommandInvocations: FLEET.map((id) =>
        invocation(input.CommandId, id, 'Success', agentLine(sha)),
      ),
    }));
    const sentBefore = ssmMock.commandCalls(SendCommandCommand).length;
    const { deps: d } = deps();

    // Act
    const summary = await reconcile(d, parseTrigger(SCHEDULED_EVENT));

    // Assess
    expect(summary).toMatchObject({ changed: false, delivered: 0 });
    expect(ssmMock.commandCalls(SendCommandCommand).length).toBe(sentBefore);
  });

  it('on the schedule, re-delivers to the one drifted instance only, and status shows it', async () => {
    // Prepare: one host reports an older sha
    const pointer = await new DesiredPointerStore(ddb().client(), TABLE).read();
    const sha = pointer?.sha256 ?? '';
    const drifted = FLEET[1] ?? '';
    ssmMock.on(ListCommandInvocationsCommand).callsFake((input) => ({
      CommandInvocations: FLEET.map((id) =>
        invocation(
          input.CommandId,
          id,
          'Success',
          agentLine(id === drifted ? '0'.repeat(64) : sha, true, 'unchanged'),
        ),
      ),
    }));
    const { deps: d, status } = deps();
    const before = await readStatus(status);
    const sentBefore = ssmMock.commandCalls(SendCommandCommand).length;

    // Act
    const summary = await reconcile(d, parseTrigger(SCHEDULED_EVENT));

    // Assess
    expect(before.desired?.sha256).toBe(sha);
    expect(before.instances.find((i) => i.instanceId === drifted)).toMatchObject({
      drift: true,
      state: 'drift',
      appliedSha256: '0'.repeat(64),
    });
    expect(before.instances.filter((i) => !i.drift)).toHaveLength(2);
    expect(before.clusters).toEqual([
      expect.objectContaining({ clusterId: 'orders', topology: 'ok', members: 4 }),
    ]);
    expect(summary).toMatchObject({ changed: false, delivered: 1 });
    const sent = ssmMock.commandCalls(SendCommandCommand).slice(sentBefore);
    expect(sent.map((c) => c.args[0].input.InstanceIds)).toEqual([[drifted]]);
  });

  it('an RDS outage keeps the desired bundle and every server, and reports the cluster stale', async () => {
    // Prepare
    rdsMock.reset();
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $metadata: { attempts: 5 },
    });
    rdsMock.on(DescribeDBClustersCommand).rejects(throttled);
    rdsMock.on(DescribeDBInstancesCommand).rejects(throttled);
    const pointerBefore = await new DesiredPointerStore(ddb().client(), TABLE).read();
    const sentBefore = ssmMock.commandCalls(SendCommandCommand).length;
    const { deps: d, status } = deps();

    // Act
    const summary = await reconcile(
      d,
      parseTrigger(clusterEvent('RDS-EVENT-0071', 'orders', true, new Date().toISOString())),
    );

    // Assess
    expect(summary).toMatchObject({ changed: false, staleClusters: ['orders'] });
    const pointerAfter = await new DesiredPointerStore(ddb().client(), TABLE).read();
    expect(pointerAfter).toEqual(pointerBefore);
    const bundle = await d.bundles.get(pointerAfter?.sha256 ?? '');
    expect(bundle?.clusters[0]?.servers.filter((s) => s.role === 'reader')).toHaveLength(3);
    expect(ssmMock.commandCalls(SendCommandCommand).length).toBe(sentBefore);
    expect((await readStatus(status)).staleClusters).toEqual(['orders']);
  });
});
