import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  paginateDescribeDBInstances,
  RDSClient,
} from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../packages/local-stack/postgres-cluster';
import { LivePostgresSource } from '../../../packages/local-stack/rds-standin/live-postgres-source';
import {
  type RdsStandin,
  startRdsStandin,
} from '../../../packages/local-stack/rds-standin/rds-standin';
import { simulatedClusterNodes } from '../../../packages/local-stack/rds-standin/simulated-nodes';
import {
  type SimulatedClusterView,
  StaticTopologySource,
} from '../../../packages/local-stack/rds-standin/topology-source';

function staticCluster(clusterId: string, readers: number): SimulatedClusterView {
  const instances = Array.from({ length: readers + 1 }, (_, i) => ({
    instanceId: `${clusterId}-${i + 1}`,
    address: '127.0.0.1',
    port: 15000 + i,
    isWriter: i === 0,
    status: 'available',
    instanceClass: 'db.r6g.large',
    az: i % 2 ? 'us-east-1b' : 'us-east-1a',
    promotionTier: 1,
  }));
  return { clusterId, status: 'available', port: 15000, instances };
}

/** The real RDS client, configured the way the Lambda is: only the endpoint is overridden. */
function rdsClient(endpoint: string, maxAttempts = 1): RDSClient {
  return new RDSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts,
  });
}

describe('RDS stand-in with the real @aws-sdk/client-rds (static topology)', () => {
  let standin: RdsStandin;
  let client: RDSClient;
  const source = new StaticTopologySource([staticCluster('orders', 2), staticCluster('big', 29)]);
  beforeAll(async () => {
    standin = await startRdsStandin(source);
    client = rdsClient(standin.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await standin?.close();
  });

  it('describes a cluster filtered by db-cluster-id with its members and writer flag', async () => {
    // Act
    const out = await client.send(
      new DescribeDBClustersCommand({ Filters: [{ Name: 'db-cluster-id', Values: ['orders'] }] }),
    );

    // Assess
    expect(out.DBClusters).toHaveLength(1);
    const cluster = out.DBClusters?.[0];
    expect(cluster?.DBClusterIdentifier).toBe('orders');
    expect(cluster?.Engine).toBe('aurora-postgresql');
    expect(cluster?.Status).toBe('available');
    expect(cluster?.Port).toBe(15000);
    expect(cluster?.ReaderEndpoint).toMatch(/^orders\.cluster-ro-/);
    expect(
      cluster?.DBClusterMembers?.map((m) => [m.DBInstanceIdentifier, m.IsClusterWriter]),
    ).toEqual([
      ['orders-1', true],
      ['orders-2', false],
      ['orders-3', false],
    ]);
  });

  it('describes instances with endpoint, class, AZ and cluster id', async () => {
    // Act
    const out = await client.send(
      new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: ['orders'] }] }),
    );

    // Assess
    expect(out.DBInstances?.map((i) => i.DBInstanceIdentifier)).toEqual([
      'orders-1',
      'orders-2',
      'orders-3',
    ]);
    const second = out.DBInstances?.[1];
    expect(second?.Endpoint).toMatchObject({ Address: '127.0.0.1', Port: 15001 });
    expect(second?.DBInstanceClass).toBe('db.r6g.large');
    expect(second?.DBInstanceStatus).toBe('available');
    expect(second?.AvailabilityZone).toBe('us-east-1b');
    expect(second?.DBClusterIdentifier).toBe('orders');
  });

  it('paginates with MaxRecords and Marker (the SDK paginator collects every page)', async () => {
    // Act
    const pages = [];
    for await (const page of paginateDescribeDBInstances(
      { client },
      { Filters: [{ Name: 'db-cluster-id', Values: ['big'] }], MaxRecords: 20 },
    )) {
      pages.push(page);
    }

    // Assess
    expect(pages.map((p) => p.DBInstances?.length)).toEqual([20, 10]);
    const ids = pages.flatMap((p) => p.DBInstances?.map((i) => i.DBInstanceIdentifier) ?? []);
    expect(new Set(ids).size).toBe(30);
  });

  it('is found by a client configured only through AWS_ENDPOINT_URL_RDS', async () => {
    // Prepare
    process.env.AWS_ENDPOINT_URL_RDS = standin.endpoint;
    const fromEnv = new RDSClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });

    // Act
    const out = await fromEnv.send(
      new DescribeDBClustersCommand({ DBClusterIdentifier: 'orders' }),
    );

    // Assess
    expect(out.DBClusters?.[0]?.DBClusterIdentifier).toBe('orders');
    fromEnv.destroy();
    delete process.env.AWS_ENDPOINT_URL_RDS;
  });

  it('answers DBClusterNotFoundFault for an unknown DBClusterIdentifier', async () => {
    // Act
    const call = client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'nope' }));

    // Assess
    await expect(call).rejects.toMatchObject({
      name: 'DBClusterNotFoundFault',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('rejects an unknown filter name and MaxRecords out of range', async () => {
    await expect(
      client.send(new DescribeDBInstancesCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      client.send(new DescribeDBInstancesCommand({ MaxRecords: 5 })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
  });

  it('throttles and fails on demand, counts every call, and recovers', async () => {
    // Prepare
    standin.faults.resetCounts();
    standin.faults.set({ kind: 'throttle', calls: 1 });

    // Act + Assess: throttled once, then an internal failure, then normal again
    await expect(client.send(new DescribeDBClustersCommand({}))).rejects.toMatchObject({
      name: 'Throttling',
      $metadata: { httpStatusCode: 400 },
    });
    standin.faults.set({ kind: 'internal', calls: 1 });
    await expect(client.send(new DescribeDBInstancesCommand({}))).rejects.toMatchObject({
      name: 'InternalFailure',
      $metadata: { httpStatusCode: 500 },
    });
    const ok = await client.send(new DescribeDBClustersCommand({}));
    expect(ok.DBClusters).toHaveLength(2);
    expect(standin.faults.calls()).toEqual({ DescribeDBClusters: 2, DescribeDBInstances: 1 });
    expect(standin.faults.faultedCalls()).toBe(2);
  });

  it('a time-window fault is retried by the SDK and every retry is counted', async () => {
    // Prepare
    standin.faults.resetCounts();
    standin.faults.set({ kind: 'throttle', forMs: 60_000, actions: ['DescribeDBInstances'] });
    const retrying = rdsClient(standin.endpoint, 2);

    // Act
    const call = retrying.send(new DescribeDBInstancesCommand({}));

    // Assess
    await expect(call).rejects.toMatchObject({ name: 'Throttling' });
    expect(standin.faults.calls().DescribeDBInstances).toBe(2);
    const clusters = await retrying.send(new DescribeDBClustersCommand({}));
    expect(clusters.DBClusters).toHaveLength(2);
    standin.faults.clear();
    retrying.destroy();
  });
});

describe('RDS stand-in following a live PostgreSQL cluster', () => {
  let pgCluster: PostgresCluster;
  let standin: RdsStandin;
  let client: RDSClient;
  beforeAll(async () => {
    pgCluster = await startPostgresCluster({ replicas: 2 });
    const source = new LivePostgresSource([simulatedClusterNodes('sales', pgCluster)], {
      cacheMs: 0,
    });
    standin = await startRdsStandin(source);
    client = rdsClient(standin.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await standin?.close();
    await pgCluster?.stop();
  });

  const members = async () => {
    const out = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'sales' }));
    return Object.fromEntries(
      out.DBClusters?.[0]?.DBClusterMembers?.map((m) => [
        m.DBInstanceIdentifier,
        m.IsClusterWriter,
      ]) ?? [],
    );
  };
  const statuses = async () => {
    const out = await client.send(
      new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: ['sales'] }] }),
    );
    return Object.fromEntries(
      out.DBInstances?.map((i) => [i.DBInstanceIdentifier, i.DBInstanceStatus]) ?? [],
    );
  };

  it('reports the node out of recovery as writer and the replicas as readers', async () => {
    expect(await members()).toEqual({ 'sales-1': true, 'sales-2': false, 'sales-3': false });
    const out = await client.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'sales-2' }),
    );
    expect(out.DBInstances?.[0]?.Endpoint?.Port).toBe(pgCluster.node('replica1').port);
  });

  it('follows a failover: stopped writer, promoted replica, then a removed replica', async () => {
    // Act: Aurora-like failover
    await pgCluster.stopNode('primary');
    await pgCluster.promote('replica1');
    await pgCluster.repoint('replica1');

    // Assess
    expect(await members()).toEqual({ 'sales-1': false, 'sales-2': true, 'sales-3': false });
    expect(await statuses()).toEqual({
      'sales-1': 'stopped',
      'sales-2': 'available',
      'sales-3': 'available',
    });

    // Act: a replica is deleted
    await pgCluster.removeReplica('replica2');

    // Assess
    expect(await members()).toEqual({ 'sales-1': false, 'sales-2': true });
  });
});
