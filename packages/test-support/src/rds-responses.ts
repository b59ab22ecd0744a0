import { type DBCluster, DBClusterNotFoundFault } from '@aws-sdk/client-rds';
import { dbCluster } from './rds-fixtures';

/**
 * DescribeDBClusters answers shaped as in the RDS API reference (the topology fixtures'
 * DBCluster), and the DBClusterNotFoundFault error.
 */
export function auroraCluster(
  clusterId: string,
  members: { id: string; writer: boolean }[],
  engine = 'aurora-postgresql',
): DBCluster {
  return dbCluster(clusterId, members, {
    Engine: engine,
    MultiAZ: members.length > 1,
    IAMDatabaseAuthenticationEnabled: true,
    DeletionProtection: true,
  });
}

export function clusterNotFound(clusterId: string): DBClusterNotFoundFault {
  return new DBClusterNotFoundFault({
    message: `DBCluster ${clusterId} not found.`,
    $metadata: { httpStatusCode: 404 },
  });
}
