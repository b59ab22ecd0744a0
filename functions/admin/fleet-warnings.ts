import { pgbouncerNeeded } from '@aurora-haproxy/contract/pooling';
import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import { versionAtLeast } from '@aurora-haproxy/contract/version';
import type { HostView } from '../fleet-view/view';

/**
 * Warnings for an accepted add/update whose options need a newer host than some of the fleet
 * runs (pure). The change is stored either way: the bundle says what it requires, and each
 * host that cannot serve it refuses it with a clear error and keeps what it serves; the
 * warning tells the operator before the refusals do. Pass conditions (no warning): the
 * cluster's options need no particular PgBouncer, or every host that reports (fresh or stale)
 * reports a PgBouncer at least the one needed. A host with no known version is listed.
 */
export function fleetWarnings(cluster: RegistryCluster, hosts: readonly HostView[]): string[] {
  const needed = pgbouncerNeeded(cluster.options);
  if (needed === undefined) return [];
  const short = hosts
    .filter((h) => h.pgbouncerVersion === null || !versionAtLeast(h.pgbouncerVersion, needed))
    .map((h) => `${h.instanceId} (${h.pgbouncerVersion ?? 'version unknown'})`)
    .sort();
  if (short.length === 0) return [];
  const shown = short.slice(0, 10).join(', ');
  const more = short.length > 10 ? ` and ${short.length - 10} more` : '';
  return [
    `options.maxPreparedStatements needs PgBouncer >= ${needed}; ${short.length} of ${hosts.length} hosts run an older or unknown one and will refuse every bundle until replaced (Debian 13 hosts have 1.24): ${shown}${more}`,
  ];
}
