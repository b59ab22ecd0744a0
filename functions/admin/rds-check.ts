import { type DBCluster, DescribeDBClustersCommand, type RDSClient } from '@aws-sdk/client-rds';
import { RdsCheckError } from './errors';

export const REQUIRED_ENGINE = 'aurora-postgresql';

export interface RdsClusterFacts {
  clusterId: string;
  engine: string;
  status?: string;
  writers: number;
  readers: number;
}

/**
 * The seed's checks before a cluster is registered: it exists in this account and region,
 * runs aurora-postgresql, and has at least one reader (a DBClusterMember with
 * IsClusterWriter false). One DescribeDBClusters call. Throws RdsCheckError naming the problem.
 */
export async function checkAuroraCluster(
  rds: RDSClient,
  clusterId: string,
): Promise<RdsClusterFacts> {
  let cluster: DBCluster | undefined;
  try {
    const out = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }));
    cluster = out.DBClusters?.find(
      (c) => c.DBClusterIdentifier?.toLowerCase() === clusterId.toLowerCase(),
    );
  } catch (error) {
    if (isClusterNotFound(error)) throw notFound(clusterId, error);
    throw new RdsCheckError(
      'RDS_UNAVAILABLE',
      `clusterId: could not check ${clusterId} with RDS (${describe(error)}); retry, or use force to skip the check`,
      { cause: error },
    );
  }
  if (!cluster) throw notFound(clusterId);
  const facts = clusterFacts(clusterId, cluster);
  if (facts.engine !== REQUIRED_ENGINE) {
    throw new RdsCheckError(
      'RDS_NOT_AURORA_POSTGRESQL',
      `clusterId: ${clusterId} runs engine ${facts.engine || '(none)'}, not ${REQUIRED_ENGINE}`,
    );
  }
  if (facts.readers === 0) {
    throw new RdsCheckError(
      'RDS_NO_READER',
      `clusterId: ${clusterId} has no reader (${facts.writers} writer, 0 readers); add a reader instance, or use force to register it anyway`,
    );
  }
  return facts;
}

/** Pure: count writers and readers among the members RDS listed. */
export function clusterFacts(clusterId: string, cluster: DBCluster): RdsClusterFacts {
  const members = cluster.DBClusterMembers ?? [];
  const writers = members.filter((m) => m.IsClusterWriter === true).length;
  return {
    clusterId,
    engine: cluster.Engine ?? '',
    status: cluster.Status,
    writers,
    readers: members.length - writers,
  };
}

function notFound(clusterId: string, cause?: unknown): RdsCheckError {
  return new RdsCheckError(
    'RDS_CLUSTER_NOT_FOUND',
    `clusterId: RDS has no DB cluster ${clusterId} in this account and region; use force to register it anyway`,
    { cause },
  );
}

function isClusterNotFound(error: unknown): boolean {
  return (error as { name?: unknown } | undefined)?.name === 'DBClusterNotFoundFault';
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}
