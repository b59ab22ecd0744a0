import type { BundleCluster, BundleServer } from './bundle';

/**
 * AZ affinity (options.azAffinity): the bundle stays the same on every host; each host
 * decides which readers are "in its zone" from the bundle's per-server `az` and its own zone
 * (AURORA_HAPROXY_AZ, from EC2 instance metadata). The cluster's listener sends a new
 * connection to a second backend holding only the in-zone readers while at least one of them
 * passes its check, and to every reader otherwise (templates/haproxy.cfg.hbs). Shared by the
 * renderer (names, config) and the agent (runtime states), so both sides agree.
 */

/** The in-zone backend's name is defined with the other names (names.ts). */
export { azBackendName } from './names';

/**
 * Pass conditions: a server is preferred on this host when its cluster has azAffinity, it is
 * a reader (the writer's backup slot w1 is never preferred: fallbackToWriter stays the last
 * resort), its RDS AvailabilityZone is known, and it equals the host's zone, which is
 * non-empty. A host that does not know its zone prefers nothing: every reader serves, as
 * without affinity.
 */
export function isPreferredOnHost(
  cluster: Pick<BundleCluster, 'options'>,
  server: Pick<BundleServer, 'role' | 'az'>,
  hostAz: string,
): boolean {
  return (
    cluster.options.azAffinity === true &&
    server.role === 'reader' &&
    server.az !== undefined &&
    hostAz !== '' &&
    server.az === hostAz
  );
}
