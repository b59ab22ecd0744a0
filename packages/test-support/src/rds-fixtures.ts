import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import type { DBCluster, DBInstance } from '@aws-sdk/client-rds';
import type { CachedTopology, Observation } from '../../../functions/state/topology-cache';
import type { TopologyCacheLike } from '../../../functions/topology/fetch-topologies';

/**
 * Response elements as documented for DescribeDBClusters (DBCluster: DBClusterIdentifier,
 * Status, Engine, Endpoint, ReaderEndpoint, Port, DBClusterMembers[{DBInstanceIdentifier,
 * IsClusterWriter, DBClusterParameterGroupStatus, PromotionTier}], ...) and
 * DescribeDBInstances (DBInstance: DBInstanceIdentifier, DBInstanceClass, Engine,
 * DBInstanceStatus, Endpoint{Address, Port, HostedZoneId}, AvailabilityZone,
 * DBClusterIdentifier, ...), as the SDK deserializes them.
 */
export function dbCluster(
  id: string,
  members: { id: string; writer: boolean }[],
  overrides: Partial<DBCluster> = {},
): DBCluster {
  return {
    AllocatedStorage: 1,
    AvailabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    BackupRetentionPeriod: 7,
    DBClusterIdentifier: id,
    DBClusterParameterGroup: 'default.aurora-postgresql15',
    DBSubnetGroup: 'default',
    Status: 'available',
    Endpoint: `${id}.cluster-c9akciq32.eu-west-1.rds.amazonaws.com`,
    ReaderEndpoint: `${id}.cluster-ro-c9akciq32.eu-west-1.rds.amazonaws.com`,
    MultiAZ: true,
    Engine: 'aurora-postgresql',
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
    DbClusterResourceId: `cluster-${id.toUpperCase()}`,
    DBClusterArn: `arn:aws:rds:eu-west-1:123456789012:cluster:${id}`,
    EngineMode: 'provisioned',
    ...overrides,
  };
}

export function dbInstance(
  id: string,
  clusterId: string,
  overrides: Partial<DBInstance> = {},
): DBInstance {
  return {
    DBInstanceIdentifier: id,
    DBInstanceClass: 'db.r6g.large',
    Engine: 'aurora-postgresql',
    DBInstanceStatus: 'available',
    Endpoint: {
      Address: `${id}.c9akciq32.eu-west-1.rds.amazonaws.com`,
      Port: 5432,
      HostedZoneId: 'Z29XKXDKYMONMX',
    },
    AvailabilityZone: 'eu-west-1a',
    DBClusterIdentifier: clusterId,
    DBInstanceArn: `arn:aws:rds:eu-west-1:123456789012:db:${id}`,
    PubliclyAccessible: false,
    StorageEncrypted: true,
    ...overrides,
  };
}

/** An in-memory topology cache with the same contract as state/topology-cache.ts. */
export class MemoryTopologyCache implements TopologyCacheLike {
  readonly entries = new Map<string, CachedTopology>();
  saves = 0;
  async getMany(ids: readonly string[]) {
    const out = new Map<string, CachedTopology>();
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (entry) out.set(id, structuredClone(entry));
    }
    return out;
  }
  async saveGood(topology: ClusterTopology) {
    this.saves++;
    this.entries.set(topology.clusterId, {
      topology: structuredClone({ ...topology, stale: false }),
      observation: { ok: true, at: topology.observedAt },
    });
  }
  async recordProblem(clusterId: string, observation: Observation) {
    const entry = this.entries.get(clusterId) ?? {};
    this.entries.set(clusterId, { ...entry, observation });
  }
}

/** An SDK-style service error (name + $metadata, as the SDK throws after its retries). */
export function awsError(name: string, message: string, httpStatusCode = 400, attempts = 5) {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, attempts, totalRetryDelay: 1200 },
  });
}
