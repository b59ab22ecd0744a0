import {
  asgInstance,
  autoScalingGroup,
  MemoryDeliveryRecords,
  sentCommand,
} from '@aurora-haproxy/test-support/aws-fixtures';
import {
  awsError,
  dbCluster,
  dbInstance,
  MemoryTopologyCache,
} from '@aurora-haproxy/test-support/rds-fixtures';
import { RecordingMetrics } from '@aurora-haproxy/test-support/recording';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { ListCommandInvocationsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SEND_OPTIONS } from '../../../functions/delivery/send';
import { parseTrigger } from '../../../functions/events/parse-trigger';
import { readReconcileEnv } from '../../../functions/reconcile/env';
import { ReconcileConfigError, ReconcileConflictError } from '../../../functions/reconcile/errors';
import {
  RECONCILE_METRICS,
  type ReconcileDeps,
  reconcile,
} from '../../../functions/reconcile/reconcile';
import { renderBundle } from '../../../functions/render/render-bundle';
import { silentLog } from '../../../functions/shared/observability';
import { StoredItemInvalidError } from '../../../functions/state/errors';
import { clusterEvent, instanceEvent, SCHEDULED_EVENT } from '../events/rds-events';
import { MemoryBundles, MemoryMark, MemoryPointer, MemoryRegistry, registryCluster } from './fakes';

const rdsMock = mockClient(RDSClient);
const ssmMock = mockClient(SSMClient);
const asgMock = mockClient(AutoScalingClient);
const NOW = new Date('2026-11-26T09:00:00.000Z');
/** Events happen at the clock's time: no earlier look covers them. */
const AT = NOW.toISOString();
let members: string[];

function setup() {
  const metrics = new RecordingMetrics();
  const cache = new MemoryTopologyCache();
  const registry = new MemoryRegistry([registryCluster('orders', 15432)]);
  const bundles = new MemoryBundles();
  const pointer = new MemoryPointer();
  const records = new MemoryDeliveryRecords();
  const mark = new MemoryMark();
  const deps: ReconcileDeps = {
    registry,
    topology: {
      rds: new RDSClient({ region: 'eu-west-1' }),
      cache,
      log: silentLog,
      metrics,
      now: () => NOW,
    },
    bundles,
    pointer,
    delivery: {
      ssm: new SSMClient({ region: 'eu-west-1' }),
      autoScaling: new AutoScalingClient({ region: 'eu-west-1' }),
      records,
      fleetGroupName: 'fleet',
      send: { documentName: 'apply-bundle', ...DEFAULT_SEND_OPTIONS },
      log: silentLog,
      metrics,
      now: () => NOW,
    },
    mark,
    render: renderBundle,
    log: silentLog,
    metrics,
    now: () => NOW,
  };
  return { deps, metrics, cache, registry, bundles, pointer, records, mark };
}

beforeEach(() => {
  rdsMock.reset();
  ssmMock.reset();
  asgMock.reset();
  members = ['orders-1', 'orders-2', 'orders-3'];
  rdsMock.on(DescribeDBClustersCommand).callsFake((input) => ({
    DBClusters: input.Filters[0].Values.includes('orders')
      ? [
          dbCluster(
            'orders',
            members.map((id, i) => ({ id, writer: i === 0 })),
          ),
        ]
      : [],
  }));
  rdsMock
    .on(DescribeDBInstancesCommand)
    .callsFake(() => ({ DBInstances: members.map((id) => dbInstance(id, 'orders')) }));
  asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [autoScalingGroup('fleet', [asgInstance('i-01'), asgInstance('i-02')])],
  });
  let n = 0;
  ssmMock
    .on(SendCommandCommand)
    .callsFake((input) => ({ Command: sentCommand(`cmd-${++n}`, input) }));
});

const ADMIN = parseTrigger({ source: 'aurora-haproxy.admin', reason: 'test' });

describe('reconcile', () => {
  it('publishes a new bundle, moves the pointer and delivers it, with 2 RDS calls', async () => {
    // Prepare
    const { deps, bundles, pointer, records } = setup();

    // Act
    const summary = await reconcile(deps, ADMIN);

    // Assess
    expect(summary).toMatchObject({ changed: true, delivered: 2, rdsCalls: 2, acted: true });
    expect(pointer.item).toMatchObject({ sha256: summary.sha256, version: 1 });
    expect([...bundles.items.keys()]).toEqual([summary.sha256]);
    expect(records.state?.sha256).toBe(summary.sha256);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it.each([
    ['unreadable', 'throws'],
    ['missing', 'absent'],
  ])(
    'stores the desired bundle again when it is %s and the same sha renders (issue 10.4)',
    async (_, how) => {
      // Prepare
      const { deps, bundles, pointer, metrics } = setup();
      await reconcile(deps, ADMIN);
      const sha = pointer.item?.sha256 as string;
      const good = bundles.items.get(sha);
      bundles.items.delete(sha);
      const realGet = bundles.get.bind(bundles);
      bundles.get = async (s: string) => {
        if (s === sha && !bundles.items.has(sha) && how === 'throws') {
          throw new StoredItemInvalidError(`bundle ${s}: incorrect header check`);
        }
        return realGet(s);
      };

      // Act
      const summary = await reconcile(deps, ADMIN);

      // Assess
      expect(summary).toMatchObject({ sha256: sha, changed: false, repairedDesired: true });
      expect(bundles.replaced).toBe(1);
      expect(bundles.items.get(sha)).toEqual(good);
      expect(metrics.get(RECONCILE_METRICS.repaired)).toBe(1);
      expect(pointer.item?.version).toBe(1);
    },
  );

  it('publishes nothing while the desired bundle is unreadable and RDS answers are stale', async () => {
    // Prepare: the served bundle cannot be read, and RDS throttles: the servers are unknown
    const { deps, bundles, pointer, metrics } = setup();
    await reconcile(deps, ADMIN);
    const sha = pointer.item?.sha256 as string;
    bundles.items.clear();
    rdsMock.reset();
    rdsMock.rejects(awsError('Throttling', 'Rate exceeded', 400));
    members = ['orders-1'];

    // Act
    const summary = await reconcile(deps, ADMIN);

    // Assess
    expect(summary).toMatchObject({ sha256: sha, changed: false, staleClusters: ['orders'] });
    expect(pointer.item).toMatchObject({ sha256: sha, version: 1 });
    expect(metrics.get(RECONCILE_METRICS.unsafe)).toBe(1);
  });

  it('stores and sends nothing when registry and topology are unchanged', async () => {
    // Prepare
    const { deps, bundles, metrics } = setup();
    await reconcile(deps, ADMIN);

    // Act
    const summary = await reconcile(
      deps,
      parseTrigger(clusterEvent('RDS-EVENT-0071', 'orders', true, AT)),
    );

    // Assess
    expect(summary).toMatchObject({ changed: false, delivered: 0 });
    expect(bundles.puts).toBe(1);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(ssmMock.commandCalls(ListCommandInvocationsCommand)).toHaveLength(0);
    expect(metrics.get(RECONCILE_METRICS.unchanged)).toBe(1);
  });

  it('keeps a staying reader in its slot when another joins', async () => {
    // Prepare
    const { deps, bundles } = setup();
    const first = await reconcile(deps, ADMIN);
    members = ['orders-1', 'orders-0', 'orders-2', 'orders-3'];

    // Act
    const second = await reconcile(
      deps,
      parseTrigger(instanceEvent('RDS-EVENT-0005', 'orders-0', false, AT)),
    );

    // Assess
    const slots = (sha?: string) =>
      Object.fromEntries(
        bundles.items.get(sha ?? '')?.clusters[0]?.servers.map((s) => [s.instanceId, s.name]) ?? [],
      );
    expect(second.changed).toBe(true);
    const before = slots(first.sha256);
    const after = slots(second.sha256);
    for (const id of ['orders-2', 'orders-3']) expect(after[id]).toBe(before[id]);
  });

  it('ignores an event of an unregistered cluster before any RDS call', async () => {
    // Prepare
    const { deps, metrics } = setup();

    // Act
    const summary = await reconcile(
      deps,
      parseTrigger(clusterEvent('RDS-EVENT-0071', 'payroll', true, AT)),
    );

    // Assess
    expect(summary).toMatchObject({ acted: false, changed: false, rdsCalls: 0 });
    expect(rdsMock.calls()).toHaveLength(0);
    expect(metrics.get(RECONCILE_METRICS.ignored)).toBe(1);
  });

  it('resolves an instance event through the topology cache', async () => {
    // Prepare
    const { deps } = setup();
    await reconcile(deps, ADMIN);
    rdsMock.resetHistory();

    // Act
    const known = await reconcile(
      deps,
      parseTrigger(instanceEvent('RDS-EVENT-0006', 'orders-2', false, AT)),
    );
    const stranger = await reconcile(
      deps,
      parseTrigger(instanceEvent('RDS-EVENT-0006', 'stranger-1', false, AT)),
    );

    // Assess
    expect(known.acted).toBe(true);
    expect(stranger.acted).toBe(false);
    expect(rdsMock.calls()).toHaveLength(2);
  });

  it('stops without delivering when it loses the CAS to a run that published the same bundle', async () => {
    // Prepare: a concurrent run publishes the very same bundle just before our swap
    const { deps, pointer, bundles } = setup();
    pointer.beforeSwap = () => {
      pointer.beforeSwap = undefined;
      const [sha] = [...bundles.items.keys()];
      pointer.item = { sha256: sha ?? '', version: 1, updatedAt: NOW.toISOString() };
    };

    // Act
    const summary = await reconcile(deps, ADMIN);

    // Assess
    expect(summary).toMatchObject({ changed: false, delivered: 0 });
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('retries once when it loses the CAS to another bundle, then publishes its own', async () => {
    // Prepare: a concurrent run published an older view just before our first swap
    const { deps, pointer, metrics } = setup();
    pointer.beforeSwap = () => {
      pointer.beforeSwap = undefined;
      pointer.item = { sha256: 'e'.repeat(64), version: 1, updatedAt: NOW.toISOString() };
    };

    // Act
    const summary = await reconcile(deps, ADMIN);

    // Assess
    expect(summary.changed).toBe(true);
    expect(pointer.item).toMatchObject({ sha256: summary.sha256, version: 2 });
    expect(metrics.get(RECONCILE_METRICS.lostRace)).toBe(1);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
    // RDS is read again: the winner's bundle may come from a newer look than ours.
    expect(rdsMock.calls()).toHaveLength(4);
  });

  it('gives up with ReconcileConflictError when the pointer keeps moving, publishing nothing', async () => {
    // Prepare
    const { deps, pointer } = setup();
    let v = 0;
    pointer.beforeSwap = () => {
      v++;
      pointer.item = {
        sha256: String(v).repeat(64).slice(0, 64),
        version: 10 + v,
        updatedAt: NOW.toISOString(),
      };
    };

    // Act + Assess
    await expect(reconcile(deps, ADMIN)).rejects.toBeInstanceOf(ReconcileConflictError);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('does not fail when delivery fails: the pointer moved and the schedule retries', async () => {
    // Prepare
    const { deps, pointer } = setup();
    asgMock.reset();
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .rejects(Object.assign(new Error('boom'), { name: 'InternalFailure' }));

    // Act
    const summary = await reconcile(deps, ADMIN);

    // Assess
    expect(summary).toMatchObject({ changed: true, delivered: 0 });
    expect(summary.deliveryError).toContain('DescribeAutoScalingGroups');
    expect(pointer.item?.sha256).toBe(summary.sha256);
  });

  it('on the schedule, delivers a desired sha that was never sent (the publishing run died)', async () => {
    // Prepare: pointer moved, but no delivery was recorded
    const { deps, records } = setup();
    asgMock.reset();
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .rejectsOnce(Object.assign(new Error('boom'), { name: 'InternalFailure' }))
      .resolves({
        AutoScalingGroups: [autoScalingGroup('fleet', [asgInstance('i-01'), asgInstance('i-02')])],
      });
    const first = await reconcile(deps, ADMIN);
    expect(records.state).toBeUndefined();

    // Act
    const summary = await reconcile(deps, parseTrigger(SCHEDULED_EVENT));

    // Assess
    expect(summary).toMatchObject({ changed: false, delivered: 2 });
    expect(records.state?.sha256).toBe(first.sha256);
  });
});

describe('reconcile under an RDS fault', () => {
  it('keeps the desired bundle: a fault, and its end, publish and send nothing', async () => {
    // Prepare
    const { deps, pointer, bundles, metrics } = setup();
    const first = await reconcile(deps, ADMIN);
    rdsMock.reset();
    rdsMock
      .on(DescribeDBClustersCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    // Act
    const during = await reconcile(
      deps,
      parseTrigger(clusterEvent('RDS-EVENT-0071', 'orders', true, AT)),
    );
    rdsMock.reset();
    rdsMock.on(DescribeDBClustersCommand).resolves({
      DBClusters: [
        dbCluster(
          'orders',
          members.map((id, i) => ({ id, writer: i === 0 })),
        ),
      ],
    });
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: members.map((id) => dbInstance(id, 'orders')) });
    const after = await reconcile(
      deps,
      parseTrigger(clusterEvent('RDS-EVENT-0071', 'orders', true, AT)),
    );

    // Assess
    expect(during).toMatchObject({
      changed: false,
      sha256: first.sha256,
      staleClusters: ['orders'],
    });
    expect(after).toMatchObject({ changed: false, sha256: first.sha256, staleClusters: [] });
    expect(pointer.item?.version).toBe(1);
    expect(bundles.items.size).toBe(1);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(metrics.get(RECONCILE_METRICS.stalenessOnly)).toBe(1);
  });

  it('still publishes a real change elsewhere while one cluster is stale, keeping its servers', async () => {
    // Prepare: two clusters; RDS then fails for the batch holding both
    const { deps, registry, bundles } = setup();
    await reconcile(deps, ADMIN);
    registry.clusters.push(registryCluster('billing', 15433));
    rdsMock.reset();
    rdsMock
      .on(DescribeDBClustersCommand)
      .rejects(Object.assign(new Error('boom'), { name: 'InternalFailure' }));
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejects(Object.assign(new Error('boom'), { name: 'InternalFailure' }));

    // Act
    const summary = await reconcile(deps, ADMIN);

    // Assess
    expect(summary.changed).toBe(true);
    const bundle = bundles.items.get(summary.sha256 ?? '');
    const orders = bundle?.clusters.find((c) => c.clusterId === 'orders');
    expect(orders?.stale).toBe(true);
    expect(orders?.servers.filter((s) => s.role === 'reader')).toHaveLength(2);
    expect(bundle?.clusters.map((c) => c.clusterId)).toEqual(['billing', 'orders']);
  });
});

describe('reconcile coalescing', () => {
  it('skips an RDS event older than the latest complete look, without calling RDS', async () => {
    // Prepare
    const { deps, mark } = setup();
    await reconcile(deps, ADMIN);
    rdsMock.resetHistory();

    // Act
    const old = await reconcile(
      deps,
      parseTrigger(clusterEvent('RDS-EVENT-0071', 'orders', true, '2026-11-26T08:59:54.000Z')),
    );
    const recent = await reconcile(
      deps,
      parseTrigger(clusterEvent('RDS-EVENT-0071', 'orders', true, '2026-11-26T08:59:56.000Z')),
    );

    // Assess
    expect(mark.lookedAt).toBe(NOW.toISOString());
    expect(old.acted).toBe(false);
    expect(old.reason).toContain('covered by the reconcile');
    expect(recent.acted).toBe(true);
    expect(rdsMock.calls()).toHaveLength(2);
  });

  it('does not mark a look that served a cluster stale, so its events still count', async () => {
    // Prepare
    const { deps, mark } = setup();
    rdsMock.reset();
    rdsMock
      .on(DescribeDBClustersCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    // Act
    const summary = await reconcile(deps, ADMIN);
    const event = await reconcile(
      deps,
      parseTrigger(clusterEvent('RDS-EVENT-0071', 'orders', true, '2026-11-26T08:00:00.000Z')),
    );

    // Assess
    expect(summary.staleClusters).toEqual(['orders']);
    expect(mark.lookedAt).toBeUndefined();
    expect(event.acted).toBe(true);
  });
});

describe('readReconcileEnv', () => {
  it('requires the table, fleet and document names, and defaults the SSM tuning', () => {
    expect(() => readReconcileEnv({})).toThrow(ReconcileConfigError);
    expect(
      readReconcileEnv({ TABLE_NAME: 't', FLEET_ASG_NAME: 'f', SSM_DOCUMENT_NAME: 'd' }),
    ).toMatchObject({
      SSM_MAX_CONCURRENCY: '50%',
      SSM_MAX_ERRORS: '1',
      SSM_TIMEOUT_SECONDS: 300,
    });
    expect(() =>
      readReconcileEnv({
        TABLE_NAME: 't',
        FLEET_ASG_NAME: 'f',
        SSM_DOCUMENT_NAME: 'd',
        SSM_MAX_CONCURRENCY: '0',
      }),
    ).toThrow(/SSM_MAX_CONCURRENCY/);
  });
});
