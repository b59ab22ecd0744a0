import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { listenersOf } from '@aurora-haproxy/contract/listeners';
import { ClusterOptionsSchema, type RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import { rowFromFields, type ServerStateRow } from '../../../../agent/haproxy/servers-state';
import { renderBundle } from '../../../../functions/render/render-bundle';

/** Bundles made by the real renderer, and live `show servers state` rows built to match. */
export interface Member {
  id: string;
  address?: string;
  port: number;
  writer?: boolean;
  instanceClass?: string;
  /** RDS AvailabilityZone; absent: the answer had none. */
  az?: string;
}

export function cluster(
  overrides: Partial<Pick<RegistryCluster, 'port' | 'clusterId'>> & {
    options?: Record<string, unknown>;
  } = {},
): RegistryCluster {
  return {
    clusterId: overrides.clusterId ?? 'orders',
    port: overrides.port ?? 15432,
    databases: [{ alias: overrides.clusterId ?? 'orders', dbname: 'app' }],
    options: ClusterOptionsSchema.parse(overrides.options ?? {}),
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

export function topology(clusterId: string, members: Member[]): ClusterTopology {
  return {
    clusterId,
    status: 'available',
    engine: 'aurora-postgresql',
    members: members.map((m) => ({
      instanceId: m.id,
      address: m.address ?? '10.0.0.1',
      port: m.port,
      isWriter: m.writer ?? false,
      status: 'available',
      instanceClass: m.instanceClass ?? 'db.r6g.large',
      ...(m.az !== undefined ? { az: m.az } : {}),
    })),
    observedAt: '2026-01-01T00:00:00.000Z',
    stale: false,
  };
}

export const WRITER: Member = { id: 'db-writer', address: '10.0.0.9', port: 5432, writer: true };

export function bundleOf(
  members: Member[],
  options: { previous?: Bundle; registry?: RegistryCluster } = {},
): Bundle {
  const registry = options.registry ?? cluster();
  return renderBundle(
    {
      clusters: [registry],
      topologies: new Map([
        [registry.clusterId, topology(registry.clusterId, [WRITER, ...members])],
      ]),
      previous: options.previous,
    },
    new Date('2026-01-01T00:00:00.000Z'),
  );
}

export interface LiveSlot {
  server: string;
  address?: string;
  port?: number;
  /** 0 ready, 1 forced maint, 5 disabled spare (config maint + forced maint). */
  admin?: number;
  op?: number;
  weight?: number;
  /** The DNS name HAProxy follows for the slot (srv_fqdn). */
  fqdn?: string;
}

/** A `show servers state` row (format 1) for one slot. */
export function liveRow(backend: string, slot: LiveSlot, id = 1): ServerStateRow {
  const w = String(slot.weight ?? 100);
  return rowFromFields([
    '3',
    backend,
    String(id),
    slot.server,
    slot.address ?? '192.0.2.1',
    String(slot.op ?? 2),
    String(slot.admin ?? 5),
    w,
    w,
    '10',
    '6',
    '3',
    '4',
    '6',
    '0',
    '0',
    '0',
    slot.fqdn ?? '-',
    String(slot.port ?? 5432),
    '-',
    '0',
    '0',
    '-',
    '-',
    '0',
  ]);
}

/** Live rows matching a bundle exactly as the runtime API would leave it. */
export function liveRowsFor(bundle: Bundle): ServerStateRow[] {
  return bundle.clusters.flatMap(listenersOf).flatMap((listener) =>
    listener.slotNames.map((name, i) => {
      const s = listener.servers.find((x) => x.name === name);
      return liveRow(
        listener.backend,
        s
          ? { server: name, address: s.address, port: s.port, admin: 0, weight: s.weight }
          : { server: name },
        i + 1,
      );
    }),
  );
}
