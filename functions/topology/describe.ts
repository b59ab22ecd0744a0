import {
  type DBCluster,
  type DBInstance,
  paginateDescribeDBClusters,
  paginateDescribeDBInstances,
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
  const pages = paginateDescribeDBClusters(
    { client: rds, pageSize: PAGE_SIZE },
    filterBy(clusterIds),
  );
  return allItems('DescribeDBClusters', counters, pages, (page) => page.DBClusters);
}

/** DescribeDBInstances with a db-cluster-id filter (<= 100 ids), every page. */
export function describeInstances(
  rds: RDSClient,
  clusterIds: readonly string[],
  counters: DescribeCounters,
): Promise<DBInstance[]> {
  const pages = paginateDescribeDBInstances(
    { client: rds, pageSize: PAGE_SIZE },
    filterBy(clusterIds),
  );
  return allItems('DescribeDBInstances', counters, pages, (page) => page.DBInstances);
}

function filterBy(clusterIds: readonly string[]) {
  return { Filters: [{ Name: 'db-cluster-id', Values: [...clusterIds] }] };
}

/**
 * Every item of every page the SDK's paginator fetches (it follows Marker); an SDK failure
 * becomes an RdsApiError. Counts each page requested.
 */
async function allItems<Page, T>(
  operation: string,
  counters: DescribeCounters,
  pages: AsyncIterable<Page>,
  itemsOf: (page: Page) => T[] | undefined,
): Promise<T[]> {
  const items: T[] = [];
  let pageCount = 0;
  try {
    for await (const page of pages) {
      counters.calls++;
      items.push(...(itemsOf(page) ?? []));
      if (++pageCount >= MAX_PAGES) break;
    }
  } catch (error) {
    counters.calls++; // the request that failed
    throw new RdsApiError(operation, error);
  }
  return items;
}
