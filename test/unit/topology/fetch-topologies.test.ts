import {
  awsError,
  dbCluster,
  dbInstance,
  MemoryTopologyCache,
} from '@aurora-haproxy/test-support/rds-fixtures';
import { RecordingLog, RecordingMetrics } from '@aurora-haproxy/test-support/recording';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  fetchTopologies,
  TOPOLOGY_METRICS,
  type TopologyDeps,
} from '../../../functions/topology/fetch-topologies';
import { createRdsClient } from '../../../functions/topology/rds-client';

const rdsMock = mockClient(RDSClient);
const NOW = new Date('2026-11-26T09:00:00.000Z');

function deps(cache = new MemoryTopologyCache()) {
  const metrics = new RecordingMetrics();
  const log = new RecordingLog();
  const d: TopologyDeps = {
    rds: new RDSClient({ region: 'eu-west-1' }),
    cache,
    log,
    metrics,
    now: () => NOW,
  };
  return { deps: d, cache, metrics, log };
}

function answer(
  clusters: ReturnType<typeof dbCluster>[],
  instances: ReturnType<typeof dbInstance>[],
) {
  rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: clusters });
  rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: instances });
}

const ORDERS = dbCluster('orders', [
  { id: 'orders-1', writer: true },
  { id: 'orders-2', writer: false },
  { id: 'orders-3', writer: false },
]);
const ORDERS_1 = dbInstance('orders-1', 'orders', { AvailabilityZone: 'eu-west-1a' });
const ORDERS_2 = dbInstance('orders-2', 'orders', {
  AvailabilityZone: 'eu-west-1b',
  DBInstanceClass: 'db.r6g.xlarge',
});
const ORDERS_3 = dbInstance('orders-3', 'orders', { AvailabilityZone: 'eu-west-1c' });
const ORDERS_INSTANCES = [ORDERS_1, ORDERS_2, ORDERS_3];

describe('fetchTopologies', () => {
  beforeEach(() => rdsMock.reset());

  it('maps writer, readers, address, port, status, class and AZ with one call of each kind', async () => {
    // Prepare
    answer([ORDERS], ORDERS_INSTANCES);
    const { deps: d, cache } = deps();

    // Act
    const report = await fetchTopologies(d, ['orders']);

    // Assess
    expect(report.rdsCalls).toBe(2);
    expect(rdsMock.commandCalls(DescribeDBClustersCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'db-cluster-id', Values: ['orders'] },
    ]);
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'db-cluster-id', Values: ['orders'] },
    ]);
    const topology = report.topologies.get('orders');
    expect(topology).toMatchObject({
      clusterId: 'orders',
      status: 'available',
      engine: 'aurora-postgresql',
      stale: false,
    });
    expect(topology?.members).toEqual([
      {
        instanceId: 'orders-1',
        address: 'orders-1.c9akciq32.eu-west-1.rds.amazonaws.com',
        port: 5432,
        isWriter: true,
        status: 'available',
        instanceClass: 'db.r6g.large',
        az: 'eu-west-1a',
      },
      {
        instanceId: 'orders-2',
        address: 'orders-2.c9akciq32.eu-west-1.rds.amazonaws.com',
        port: 5432,
        isWriter: false,
        status: 'available',
        instanceClass: 'db.r6g.xlarge',
        az: 'eu-west-1b',
      },
      {
        instanceId: 'orders-3',
        address: 'orders-3.c9akciq32.eu-west-1.rds.amazonaws.com',
        port: 5432,
        isWriter: false,
        status: 'available',
        instanceClass: 'db.r6g.large',
        az: 'eu-west-1c',
      },
    ]);
    expect(cache.entries.get('orders')?.topology?.members).toHaveLength(3);
  });

  it('makes 2 calls for 100 clusters and 4 for 101 (filter values are capped at 100)', async () => {
    // Prepare
    const ids = Array.from({ length: 101 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    rdsMock.on(DescribeDBClustersCommand).callsFake((input) => ({
      DBClusters: input.Filters[0].Values.map((id: string) =>
        dbCluster(id, [{ id: `${id}-w`, writer: true }]),
      ),
    }));
    rdsMock.on(DescribeDBInstancesCommand).callsFake((input) => ({
      DBInstances: input.Filters[0].Values.map((id: string) => dbInstance(`${id}-w`, id)),
    }));
    const { deps: d } = deps();

    // Act
    const hundred = await fetchTopologies(d, ids.slice(0, 100));
    const hundredAndOne = await fetchTopologies(d, ids);

    // Assess
    expect(hundred.rdsCalls).toBe(2);
    expect(hundredAndOne.rdsCalls).toBe(4);
    expect(hundredAndOne.topologies.size).toBe(101);
    for (const call of rdsMock.calls()) {
      const input = call.args[0].input as { Filters: { Values: string[] }[] };
      expect(input.Filters[0]?.Values.length).toBeLessThanOrEqual(100);
    }
  });

  it('follows Marker pages of both calls', async () => {
    // Prepare
    const other = dbCluster('billing', [
      { id: 'billing-1', writer: true },
      { id: 'billing-2', writer: false },
    ]);
    rdsMock
      .on(DescribeDBClustersCommand, { Marker: undefined })
      .resolves({ DBClusters: [ORDERS], Marker: 'page-2' })
      .on(DescribeDBClustersCommand, { Marker: 'page-2' })
      .resolves({ DBClusters: [other] });
    rdsMock
      .on(DescribeDBInstancesCommand, { Marker: undefined })
      .resolves({ DBInstances: ORDERS_INSTANCES.slice(0, 2), Marker: 'i2' })
      .on(DescribeDBInstancesCommand, { Marker: 'i2' })
      .resolves({ DBInstances: [ORDERS_3], Marker: 'i3' })
      .on(DescribeDBInstancesCommand, { Marker: 'i3' })
      .resolves({
        DBInstances: [dbInstance('billing-1', 'billing'), dbInstance('billing-2', 'billing')],
      });
    const { deps: d } = deps();

    // Act
    const report = await fetchTopologies(d, ['orders', 'billing']);

    // Assess
    expect(report.rdsCalls).toBe(5);
    expect(report.topologies.get('orders')?.members).toHaveLength(3);
    expect(report.topologies.get('billing')?.members.map((m) => m.isWriter)).toEqual([true, false]);
  });

  it.each([
    ['throttling', awsError('ThrottlingException', 'Rate exceeded', 400)],
    ['throttling (query protocol code)', awsError('Throttling', 'Rate exceeded', 400)],
    ['a 500', awsError('InternalFailure', 'An internal error occurred', 500)],
    ['a 503', awsError('ServiceUnavailable', 'Service unavailable', 503)],
    ['a timeout', Object.assign(new Error('socket timed out'), { name: 'TimeoutError' })],
  ])(
    'serves the last known topology, flagged stale, logged and counted, on %s',
    async (_, error) => {
      // Prepare
      answer([ORDERS], ORDERS_INSTANCES);
      const { deps: d, cache, metrics, log } = deps();
      await fetchTopologies(d, ['orders']);
      rdsMock.reset();
      rdsMock.on(DescribeDBClustersCommand).rejects(error);
      rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [] });

      // Act
      const report = await fetchTopologies(d, ['orders']);

      // Assess
      const topology = report.topologies.get('orders');
      expect(topology?.stale).toBe(true);
      expect(topology?.problem).toContain(error.name);
      expect(topology?.members.map((m) => m.instanceId)).toEqual([
        'orders-1',
        'orders-2',
        'orders-3',
      ]);
      expect(report.stale).toEqual(['orders']);
      expect(metrics.get(TOPOLOGY_METRICS.fault)).toBe(1);
      expect(
        log.entries.some((e) => e.level === 'warn' && e.message.includes('RDS API fault')),
      ).toBe(true);
      expect(cache.entries.get('orders')?.observation).toMatchObject({ ok: false });
      expect(cache.entries.get('orders')?.topology?.members).toHaveLength(3);
    },
  );

  it('a fault in DescribeDBInstances also keeps every server', async () => {
    // Prepare
    answer([ORDERS], ORDERS_INSTANCES);
    const { deps: d } = deps();
    await fetchTopologies(d, ['orders']);
    rdsMock.reset();
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [ORDERS] });
    rdsMock.on(DescribeDBInstancesCommand).rejects(awsError('InternalFailure', 'boom', 500));

    // Act
    const report = await fetchTopologies(d, ['orders']);

    // Assess
    expect(report.topologies.get('orders')).toMatchObject({ stale: true });
    expect(report.topologies.get('orders')?.members).toHaveLength(3);
  });

  it('with no last known topology, a fault yields a stale cluster with no members', async () => {
    // Prepare
    rdsMock.on(DescribeDBClustersCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejects(awsError('ThrottlingException', 'Rate exceeded'));
    const { deps: d } = deps();

    // Act
    const report = await fetchTopologies(d, ['orders']);

    // Assess
    expect(report.topologies.get('orders')).toMatchObject({ stale: true, members: [] });
    expect(report.topologies.get('orders')?.problem).toContain('no last known topology');
  });

  it('reports a registered cluster missing from the answer as notFound, keeping its last members', async () => {
    // Prepare
    answer([ORDERS], ORDERS_INSTANCES);
    const { deps: d, metrics } = deps();
    await fetchTopologies(d, ['orders']);
    rdsMock.reset();
    answer([], []);

    // Act
    const report = await fetchTopologies(d, ['orders']);

    // Assess
    expect(report.notFound).toEqual(['orders']);
    expect(report.topologies.get('orders')).toMatchObject({ notFound: true, stale: true });
    expect(report.topologies.get('orders')?.members).toHaveLength(3);
    expect(metrics.get(TOPOLOGY_METRICS.notFound)).toBe(1);
  });

  it('reports DBClusterNotFoundFault for a one-cluster batch as notFound', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBClustersCommand)
      .rejects(awsError('DBClusterNotFoundFault', 'DBCluster gone not found.', 404));
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [] });
    const { deps: d } = deps();

    // Act
    const report = await fetchTopologies(d, ['gone']);

    // Assess
    expect(report.notFound).toEqual(['gone']);
    expect(report.stale).toEqual([]);
  });

  it.each([
    [
      'an address that could inject a config line',
      { Endpoint: { Address: 'evil.example.com\n  server x 1.2.3.4:5432', Port: 5432 } },
    ],
    ['a port out of range', { Endpoint: { Address: 'orders-2.example.com', Port: 70000 } }],
    ['an unknown instance class shape', { DBInstanceClass: 'db r6g large' }],
    ['a status with spaces', { DBInstanceStatus: 'available; reboot' }],
  ])('treats %s as a fault for that cluster only', async (_, bad) => {
    // Prepare
    const billing = dbCluster('billing', [{ id: 'billing-1', writer: true }]);
    answer([ORDERS, billing], [...ORDERS_INSTANCES, dbInstance('billing-1', 'billing')]);
    const { deps: d, metrics } = deps();
    await fetchTopologies(d, ['orders', 'billing']);
    rdsMock.reset();
    answer(
      [ORDERS, billing],
      [
        ORDERS_1,
        dbInstance('orders-2', 'orders', bad),
        ORDERS_3,
        dbInstance('billing-1', 'billing', { DBInstanceStatus: 'rebooting' }),
      ],
    );

    // Act
    const report = await fetchTopologies(d, ['orders', 'billing']);

    // Assess
    const orders = report.topologies.get('orders');
    expect(orders?.stale).toBe(true);
    expect(orders?.problem).toContain('invalid RDS value');
    expect(orders?.members.map((m) => m.address)).toEqual(
      ORDERS_INSTANCES.map((i) => i.Endpoint?.Address),
    );
    expect(report.topologies.get('billing')).toMatchObject({ stale: false });
    expect(report.topologies.get('billing')?.members[0]?.status).toBe('rebooting');
    expect(metrics.get(TOPOLOGY_METRICS.invalid)).toBe(1);
  });

  it('treats a member listed twice (the writer again as a reader) as a fault for that cluster only', async () => {
    // Prepare: a good first look, then an answer naming the writer twice
    const billing = dbCluster('billing', [{ id: 'billing-1', writer: true }]);
    answer([ORDERS, billing], [...ORDERS_INSTANCES, dbInstance('billing-1', 'billing')]);
    const { deps: d, cache } = deps();
    await fetchTopologies(d, ['orders', 'billing']);
    rdsMock.reset();
    const doubled = dbCluster('orders', [
      { id: 'orders-1', writer: true },
      { id: 'orders-2', writer: false },
      { id: 'orders-3', writer: false },
      { id: 'orders-1', writer: false },
    ]);
    answer([doubled, billing], [...ORDERS_INSTANCES, dbInstance('billing-1', 'billing')]);
    const savesBefore = cache.saves;

    // Act
    const report = await fetchTopologies(d, ['orders', 'billing']);

    // Assess: last known members kept, nothing of the odd answer cached
    expect(report.topologies.get('orders')).toMatchObject({ stale: true });
    expect(report.topologies.get('orders')?.problem).toContain('"orders-1" is listed twice');
    expect(report.topologies.get('orders')?.members.filter((m) => m.isWriter)).toHaveLength(1);
    expect(report.topologies.get('billing')).toMatchObject({ stale: false });
    expect(cache.saves).toBe(savesBefore);
  });

  it('skips a member with no endpoint yet', async () => {
    // Prepare
    const cluster = dbCluster('orders', [
      { id: 'orders-1', writer: true },
      { id: 'orders-2', writer: false },
    ]);
    answer(
      [cluster],
      [
        ORDERS_1,
        dbInstance('orders-2', 'orders', { DBInstanceStatus: 'creating', Endpoint: undefined }),
      ],
    );
    const { deps: d } = deps();

    // Act
    const report = await fetchTopologies(d, ['orders']);

    // Assess
    expect(report.topologies.get('orders')?.members.map((m) => m.instanceId)).toEqual(['orders-1']);
    expect(report.topologies.get('orders')?.stale).toBe(false);
  });

  it('keeps the last known members when a member is absent from the instance answer', async () => {
    // Prepare: served with three members; then a partial DescribeDBInstances answer
    answer([ORDERS], ORDERS_INSTANCES);
    const { deps: d } = deps();
    await fetchTopologies(d, ['orders']);
    rdsMock.reset();
    answer([ORDERS], [ORDERS_1]);

    // Act
    const report = await fetchTopologies(d, ['orders']);

    // Assess
    expect(report.topologies.get('orders')?.stale).toBe(true);
    expect(report.topologies.get('orders')?.problem).toContain(
      'not in the DescribeDBInstances answer',
    );
    expect(report.topologies.get('orders')?.members).toHaveLength(3);
  });

  it('does not rewrite the cache when nothing changed', async () => {
    // Prepare
    answer([ORDERS], ORDERS_INSTANCES);
    const { deps: d, cache } = deps();
    await fetchTopologies(d, ['orders']);

    // Act
    await fetchTopologies(d, ['orders']);

    // Assess
    expect(cache.saves).toBe(1);
  });

  it('lets an unexpected error through (a bug is not an RDS fault)', async () => {
    // Prepare
    answer([ORDERS], ORDERS_INSTANCES);
    const cache = new MemoryTopologyCache();
    cache.getMany = async () => {
      throw new Error('table missing');
    };
    const { deps: d } = deps(cache);

    // Act + Assess
    await expect(fetchTopologies(d, ['orders'])).rejects.toThrow('table missing');
  });
});

describe('createRdsClient', () => {
  it('retries with backoff in adaptive mode and cuts a hanging request off', async () => {
    const client = createRdsClient({ region: 'eu-west-1' });
    expect(await client.config.maxAttempts()).toBe(5);
    const strategy = (await client.config.retryStrategy()) as { mode?: string };
    expect(strategy.mode).toBe('adaptive');
    const handler = client.config.requestHandler as unknown as {
      configProvider: Promise<{ requestTimeout: number; throwOnRequestTimeout: boolean }>;
    };
    expect(await handler.configProvider).toMatchObject({
      requestTimeout: 5000,
      throwOnRequestTimeout: true,
    });
  });
});
