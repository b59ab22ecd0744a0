import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { ClusterTopology, TopologyMember } from '@aurora-haproxy/contract/topology';

/** Small builders for render tests (unit and golden). Fixed times: outputs are stable. */
export const FIXED_NOW = new Date('2026-01-01T00:00:00.000Z');

export function registryCluster(
  clusterId: string,
  port: number,
  options: Partial<RegistryCluster['options']> = {},
  databases?: RegistryCluster['databases'],
): RegistryCluster {
  return {
    clusterId,
    port,
    databases: databases ?? [{ alias: clusterId.replace(/-/g, '_'), dbname: 'app' }],
    options: {
      balance: 'leastconn',
      checkMode: 'agent',
      fallbackToWriter: false,
      weights: 'equal',
      excludeInstances: [],
      ...options,
    },
    version: 1,
    createdAt: FIXED_NOW.toISOString(),
    updatedAt: FIXED_NOW.toISOString(),
  };
}

export function member(
  instanceId: string,
  address: string,
  overrides: Partial<TopologyMember> = {},
): TopologyMember {
  return {
    instanceId,
    address,
    port: 5432,
    isWriter: false,
    status: 'available',
    instanceClass: 'db.r6g.large',
    az: 'eu-west-1a',
    ...overrides,
  };
}

export function topology(
  clusterId: string,
  members: TopologyMember[],
  overrides: Partial<ClusterTopology> = {},
): ClusterTopology {
  return {
    clusterId,
    status: 'available',
    engine: 'aurora-postgresql',
    members,
    observedAt: FIXED_NOW.toISOString(),
    stale: false,
    ...overrides,
  };
}

/** A writer plus `readers` readers at 10.<n>.0.<i>. */
export function clusterMembers(n: number, readers: number, prefix = `c${n}`): TopologyMember[] {
  return [
    member(`${prefix}-writer`, `10.${n}.0.1`, { isWriter: true }),
    ...Array.from({ length: readers }, (_, i) =>
      member(`${prefix}-reader-${i + 1}`, `10.${n}.0.${i + 10}`),
    ),
  ];
}

export function topologies(...list: ClusterTopology[]): Map<string, ClusterTopology> {
  return new Map(list.map((t) => [t.clusterId, t]));
}
