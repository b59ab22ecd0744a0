import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  type DescribeDBClustersCommandOutput,
  DescribeDBInstancesCommand,
  type DescribeDBInstancesCommandOutput,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { RdsApiError } from './errors';

/**
 * RDS accepts at most 100 values in one filter ("Only up to 100 unique filter DB Cluster
 * Identifiers may be specified per filter", InvalidParameterCombination).
 */
export const RDS_FILTER_VALUES_MAX = 100;
/** MaxRecords: RDS allows 20..100 per page. */
const PAGE_SIZE = 100;
/** A paging loop that never ends would be an RDS bug; stop it rather than spin. */
const MAX_PAGES = 1_000;

export interface DescribeCounters {
  /** RDS API requests made (pages, not retries). */
  calls: number;
}

/** DescribeDBClusters with a db-cluster-id filter (<= 100 ids), every page. */
export async function describeClusters(
  rds: RDSClient,
  clusterIds: readonly string[],
  counters: DescribeCounters,
): Promise<DBCluster[]> {
  const clusters: DBCluster[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    counters.calls++;
    let page: DescribeDBClustersCommandOutput;
    try {
      page = await rds.send(
        new DescribeDBClustersCommand({
          Filters: [{ Name: 'db-cluster-id', Values: [...clusterIds] }],
          MaxRecords: PAGE_SIZE,
          Marker: marker,
        }),
      );
    } catch (error) {
      throw new RdsApiError('DescribeDBClusters', error);
    }
    clusters.push(...(page.DBClusters ?? []));
    marker = page.Marker || undefined;
  } while (marker && ++pages < MAX_PAGES);
  return clusters;
}

/** DescribeDBInstances with a db-cluster-id filter (<= 100 ids), every page. */
export async function describeInstances(
  rds: RDSClient,
  clusterIds: readonly string[],
  counters: DescribeCounters,
): Promise<DBInstance[]> {
  const instances: DBInstance[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    counters.calls++;
    let page: DescribeDBInstancesCommandOutput;
    try {
      page = await rds.send(
        new DescribeDBInstancesCommand({
          Filters: [{ Name: 'db-cluster-id', Values: [...clusterIds] }],
          MaxRecords: PAGE_SIZE,
          Marker: marker,
        }),
      );
    } catch (error) {
      throw new RdsApiError('DescribeDBInstances', error);
    }
    instances.push(...(page.DBInstances ?? []));
    marker = page.Marker || undefined;
  } while (marker && ++pages < MAX_PAGES);
  return instances;
}
