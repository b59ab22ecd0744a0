import type { BundleCluster, BundleContent } from '@aurora-haproxy/contract/bundle';
import { pgbouncerNeeded } from '@aurora-haproxy/contract/pooling';
import { versionAtLeast } from '@aurora-haproxy/contract/version';

/**
 * The bundle's `requires`: the oldest HAProxy / PgBouncer the clusters' options need (pure).
 * Nothing needed, nothing returned: the key stays absent and unhashed, so bundles whose
 * clusters need nothing new keep the sha they had before `requires` existed.
 */
export function requirementsOf(
  clusters: readonly BundleCluster[],
): Pick<BundleContent, 'requires'> {
  let pgbouncer: string | undefined;
  for (const cluster of clusters) {
    const needed = pgbouncerNeeded(cluster.options);
    if (needed !== undefined && (pgbouncer === undefined || !versionAtLeast(pgbouncer, needed))) {
      pgbouncer = needed;
    }
  }
  return pgbouncer === undefined ? {} : { requires: { pgbouncer } };
}
