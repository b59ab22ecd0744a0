import type { ClusterOptions } from '@aurora-haproxy/contract/registry';
import type { TopologyMember } from '@aurora-haproxy/contract/topology';

/**
 * Which topology members become servers of a cluster's backend.
 *
 * The RDS status decides membership (does the instance get a slot); the health check
 * decides traffic (does the slot take reads right now). A status is servable when the
 * instance exists, has its endpoint, and returns to service by itself: short outages such as
 * a reboot or a modification keep the slot (no churn, no reload) and the health check marks
 * the server down meanwhile. Everything else, and any status this list does not know, is not
 * servable (fail closed).
 */
export const SERVABLE_INSTANCE_STATUSES: ReadonlySet<string> = new Set([
  'available',
  'backing-up',
  'configuring-enhanced-monitoring',
  'configuring-iam-database-auth',
  'configuring-log-exports',
  'converting-to-vpc',
  'maintenance',
  'modifying',
  'moving-to-vpc',
  'rebooting',
  'renaming',
  'resetting-master-credentials',
  'storage-optimization',
  'upgrading',
]);

/**
 * Known statuses that are never servable (listed for documentation and tests): the instance
 * is being created (no endpoint yet), going away, stopped, or broken until someone acts.
 */
export const UNSERVABLE_INSTANCE_STATUSES: ReadonlySet<string> = new Set([
  'creating',
  'deleting',
  'failed',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'incompatible-network',
  'incompatible-option-group',
  'incompatible-parameters',
  'incompatible-restore',
  'insufficient-capacity',
  'restore-error',
  'starting',
  'stopped',
  'stopping',
  'storage-full',
]);

export function isServableStatus(status: string): boolean {
  return SERVABLE_INSTANCE_STATUSES.has(status);
}

export interface SelectedMembers {
  /** Sorted by instanceId. */
  readers: TopologyMember[];
  /** Only when options.fallbackToWriter, the cluster has exactly one servable writer. */
  writer?: TopologyMember;
}

/**
 * Pass conditions:
 * - reader: isWriter false, not in options.excludeInstances, servable status;
 * - writer: only when options.fallbackToWriter, isWriter true, not excluded, servable, and
 *   it is the only member flagged writer (two writers during a failover is ambiguous: then
 *   no writer is offered, never a wrong one).
 * The writer is never returned as a reader.
 */
export function selectMembers(
  members: readonly TopologyMember[],
  options: Pick<ClusterOptions, 'excludeInstances' | 'fallbackToWriter'>,
): SelectedMembers {
  const excluded = new Set(options.excludeInstances);
  const eligible = members.filter((m) => !excluded.has(m.instanceId) && isServableStatus(m.status));
  const readers = eligible
    .filter((m) => !m.isWriter)
    .sort((a, b) => compareText(a.instanceId, b.instanceId));
  if (!options.fallbackToWriter) return { readers };
  const writers = members.filter((m) => m.isWriter);
  const [writer] = writers;
  if (writers.length !== 1 || writer === undefined || !eligible.includes(writer)) {
    return { readers };
  }
  return { readers, writer };
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
