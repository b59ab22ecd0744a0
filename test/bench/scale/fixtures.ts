import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { ClusterOptionsSchema, type RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';

/**
 * Synthetic fleets for the orchestrator scale figure: `clusters` clusters of one writer and
 * `readers` readers each, addresses in 10.0.0.0/8. `variant` moves one reader of the first
 * cluster to a new address, the smallest real change a tick can bring.
 */
const NOW = '2026-01-01T00:00:00.000Z';

export function registry(clusters: number): RegistryCluster[] {
  return Array.from({ length: clusters }, (_, i) => ({
    clusterId: clusterId(i),
    port: 10_000 + i,
    databases: [{ alias: `app_${i}`, dbname: 'app' }],
    options: ClusterOptionsSchema.parse({}),
    version: 1,
    createdAt: NOW,
    updatedAt: NOW,
  }));
}

export function clusterId(i: number): string {
  return `bench-${String(i).padStart(4, '0')}`;
}

export function topologies(
  clusters: number,
  readers: number,
  variant = 0,
): Map<string, ClusterTopology> {
  const map = new Map<string, ClusterTopology>();
  for (let i = 0; i < clusters; i++) {
    const id = clusterId(i);
    const members = Array.from({ length: readers + 1 }, (_, m) => ({
      instanceId: `${id}-${m + 1}`,
      address: `10.${Math.floor(i / 250)}.${i % 250}.${m + 1 + (i === 0 && m === 1 ? variant : 0)}`,
      port: 5432,
      isWriter: m === 0,
      status: 'available',
      instanceClass: 'db.r6g.large',
      az: 'eu-west-1a',
    }));
    map.set(id, {
      clusterId: id,
      status: 'available',
      engine: 'aurora-postgresql',
      members,
      observedAt: NOW,
      stale: false,
    });
  }
  return map;
}

/** `show servers state` rows as a live HAProxy running `bundle` would print them. */
export function liveRows(bundle: Bundle) {
  return bundle.clusters.flatMap((cluster) =>
    Array.from({ length: cluster.readerSlots }, (_, s) => {
      const slot = `r${String(s + 1).padStart(2, '0')}`;
      const server = cluster.servers.find((x) => x.name === slot);
      return {
        backend: cluster.backend,
        server: slot,
        address: server?.address ?? '192.0.2.1',
        opState: server ? 2 : 0,
        // A spare slot rendered `disabled` shows as 5 (forced + config maintenance) in 2.6.
        adminState: server ? 0 : 0x05,
        userWeight: server?.weight ?? 100,
        initialWeight: server?.weight ?? 100,
        port: server?.port ?? 5432,
        fields: [],
      };
    }),
  );
}
