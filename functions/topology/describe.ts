import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
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
export function describeClusters(
  rds: RDSClient,
  clusterIds: readonly string[],
  counters: DescribeCounters,
): Promise<DBCluster[]> {
  return allPages('DescribeDBClusters', counters, async (marker) => {
    const page = await rds.send(
      new DescribeDBClustersCommand({
        ...filterBy(clusterIds),
        MaxRecords: PAGE_SIZE,
        Marker: marker,
      }),
    );
    return { items: page.DBClusters ?? [], marker: page.Marker };
  });
}

/** DescribeDBInstances with a db-cluster-id filter (<= 100 ids), every page. */
export function describeInstances(
  rds: RDSClient,
  clusterIds: readonly string[],
  counters: DescribeCounters,
): Promise<DBInstance[]> {
  return allPages('DescribeDBInstances', counters, async (marker) => {
    const page = await rds.send(
      new DescribeDBInstancesCommand({
        ...filterBy(clusterIds),
        MaxRecords: PAGE_SIZE,
        Marker: marker,
      }),
    );
    return { items: page.DBInstances ?? [], marker: page.Marker };
  });
}

function filterBy(clusterIds: readonly string[]) {
  return { Filters: [{ Name: 'db-cluster-id', Values: [...clusterIds] }] };
}

/** Follow Marker until RDS returns none; an SDK failure becomes an RdsApiError. */
async function allPages<T>(
  operation: string,
  counters: DescribeCounters,
  fetchPage: (marker: string | undefined) => Promise<{ items: T[]; marker?: string }>,
): Promise<T[]> {
  const items: T[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    counters.calls++;
    let page: { items: T[]; marker?: string };
    try {
      page = await fetchPage(marker);
    } catch (error) {
      throw new RdsApiError(operation, error);
    }
    items.push(...page.items);
    marker = page.marker || undefined;
  } while (marker && ++pages < MAX_PAGES);
  return items;
}
