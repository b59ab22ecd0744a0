import { el, val } from '../aws-standin/xml';
import { clusterEndpointName } from '../endpoint-names';
import type { SimulatedClusterView, SimulatedInstance } from './topology-source';

/**
 * DBCluster and DBInstance elements in the shape the RDS API returns (API version 2014-10-31):
 * list members are named elements (DBClusters/DBCluster, DBClusterMembers/DBClusterMember,
 * DBInstances/DBInstance), booleans are `true`/`false`, numbers plain.
 */
export const RDS_NAMESPACE = 'http://rds.amazonaws.com/doc/2014-10-31/';
export const RDS_REGION = 'us-east-1';
export const RDS_ACCOUNT = '123456789012';
const ENGINE_VERSION = '15.4';

export const clusterArn = (id: string) => `arn:aws:rds:${RDS_REGION}:${RDS_ACCOUNT}:cluster:${id}`;
export const instanceArn = (id: string) => `arn:aws:rds:${RDS_REGION}:${RDS_ACCOUNT}:db:${id}`;

export function dbClusterXml(cluster: SimulatedClusterView): string {
  const azs = [...new Set(cluster.instances.map((i) => i.az))].sort();
  return el(
    'DBCluster',
    val('AllocatedStorage', 1),
    el('AvailabilityZones', ...azs.map((az) => val('AvailabilityZone', az))),
    val('BackupRetentionPeriod', 1),
    val('DBClusterIdentifier', cluster.clusterId),
    val('DBClusterParameterGroup', 'default.aurora-postgresql15'),
    val('DBSubnetGroup', 'default'),
    val('Status', cluster.status),
    val('Endpoint', clusterEndpointName(cluster.clusterId, 'writer')),
    val('ReaderEndpoint', clusterEndpointName(cluster.clusterId, 'reader')),
    val('MultiAZ', azs.length > 1),
    val('Engine', 'aurora-postgresql'),
    val('EngineVersion', ENGINE_VERSION),
    val('Port', cluster.port),
    val('MasterUsername', 'postgres'),
    el(
      'DBClusterMembers',
      ...cluster.instances.map((i) =>
        el(
          'DBClusterMember',
          val('DBInstanceIdentifier', i.instanceId),
          val('IsClusterWriter', i.isWriter),
          val('DBClusterParameterGroupStatus', 'in-sync'),
          val('PromotionTier', i.promotionTier),
        ),
      ),
    ),
    val('StorageEncrypted', true),
    val('DbClusterResourceId', `cluster-${cluster.clusterId.toUpperCase().replace(/-/g, '')}`),
    val('DBClusterArn', clusterArn(cluster.clusterId)),
    val('IAMDatabaseAuthenticationEnabled', true),
    val('EngineMode', 'provisioned'),
    val('DeletionProtection', false),
    val('HttpEndpointEnabled', false),
    val('CopyTagsToSnapshot', false),
    val('CrossAccountClone', false),
    el('TagList'),
  );
}

export function dbInstanceXml(clusterId: string, instance: SimulatedInstance): string {
  return el(
    'DBInstance',
    val('DBInstanceIdentifier', instance.instanceId),
    val('DBInstanceClass', instance.instanceClass),
    val('Engine', 'aurora-postgresql'),
    val('DBInstanceStatus', instance.status),
    val('MasterUsername', 'postgres'),
    el(
      'Endpoint',
      val('Address', instance.address),
      val('Port', instance.port),
      val('HostedZoneId', 'Z2R2ITUGPM61AM'),
    ),
    val('AllocatedStorage', 1),
    val('PreferredBackupWindow', '03:00-03:30'),
    val('BackupRetentionPeriod', 1),
    val('AvailabilityZone', instance.az),
    val('MultiAZ', false),
    val('EngineVersion', ENGINE_VERSION),
    val('AutoMinorVersionUpgrade', true),
    val('PubliclyAccessible', false),
    val('StorageType', 'aurora'),
    val('DbInstancePort', 0),
    val('DBClusterIdentifier', clusterId),
    val('StorageEncrypted', true),
    val('DbiResourceId', `db-${instance.instanceId.toUpperCase().replace(/-/g, '')}`),
    val('PromotionTier', instance.promotionTier),
    val('DBInstanceArn', instanceArn(instance.instanceId)),
    val('IAMDatabaseAuthenticationEnabled', true),
    val('PerformanceInsightsEnabled', false),
    val('DeletionProtection', false),
    el('TagList'),
  );
}
