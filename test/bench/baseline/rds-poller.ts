import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';

/**
 * BASELINE (seed-style) RDS poller model - the thing this project replaces. Every HAProxy
 * host ran it from cron: per registered cluster one DescribeDBClusters, then for every member
 * two DescribeDBInstances (one for the endpoint, one for the status), per host, per tick.
 * `pollOnce` makes exactly those calls with the real SDK client (against the RDS stand-in in
 * the benchmarks), so the count is measured, and `baselineCallsPerTick` is the same formula.
 */
export function baselineCallsPerTick(hosts: number, membersPerCluster: readonly number[]): number {
  return hosts * membersPerCluster.reduce((sum, m) => sum + 1 + 2 * m, 0);
}

export async function pollOnce(rds: RDSClient, clusterIds: readonly string[]): Promise<number> {
  let calls = 0;
  for (const clusterId of clusterIds) {
    calls++;
    const out = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }));
    const members = out.DBClusters?.[0]?.DBClusterMembers ?? [];
    for (const member of members) {
      const id = member.DBInstanceIdentifier;
      if (!id) continue;
      calls += 2;
      await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
      await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    }
  }
  return calls;
}

export function baselineRdsClient(endpoint: string): RDSClient {
  return new RDSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    maxAttempts: 1,
  });
}
