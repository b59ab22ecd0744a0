import { type DBCluster, DBClusterNotFoundFault } from '@aws-sdk/client-rds';

/**
 * DescribeDBClusters answers shaped as in the RDS API reference (DBCluster with
 * DBClusterMembers: DBInstanceIdentifier, IsClusterWriter, DBClusterParameterGroupStatus,
 * PromotionTier), and the DBClusterNotFoundFault error.
 */
export function auroraCluster(
  clusterId: string,
  members: { id: string; writer: boolean }[],
  engine = 'aurora-postgresql',
): DBCluster {
  return {
    AllocatedStorage: 1,
    AvailabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    BackupRetentionPeriod: 7,
    DBClusterIdentifier: clusterId,
    DBClusterParameterGroup: 'default.aurora-postgresql15',
    DBSubnetGroup: 'default',
    Status: 'available',
    Endpoint: `${clusterId}.cluster-c9akciq32xyz.eu-west-1.rds.amazonaws.com`,
    ReaderEndpoint: `${clusterId}.cluster-ro-c9akciq32xyz.eu-west-1.rds.amazonaws.com`,
    MultiAZ: members.length > 1,
    Engine: engine,
    EngineVersion: '15.4',
    Port: 5432,
    MasterUsername: 'postgres',
    DBClusterMembers: members.map((m, i) => ({
      DBInstanceIdentifier: m.id,
      IsClusterWriter: m.writer,
      DBClusterParameterGroupStatus: 'in-sync',
      PromotionTier: i + 1,
    })),
    StorageEncrypted: true,
    DbClusterResourceId: 'cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    DBClusterArn: `arn:aws:rds:eu-west-1:123456789012:cluster:${clusterId}`,
    IAMDatabaseAuthenticationEnabled: true,
    EngineMode: 'provisioned',
    DeletionProtection: true,
  };
}

export function clusterNotFound(clusterId: string): DBClusterNotFoundFault {
  return new DBClusterNotFoundFault({
    message: `DBCluster ${clusterId} not found.`,
    $metadata: { httpStatusCode: 404 },
  });
}
