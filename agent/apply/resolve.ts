import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { listenersOf } from '@aurora-haproxy/contract/listeners';
import { IPV4 } from '@aurora-haproxy/contract/patterns';
import { type HostResolver, systemResolver } from '../dns/host-resolver';

export { type HostResolver, systemResolver };

/**
 * The runtime API takes IP addresses only (`set server ... addr`): DNS names (Aurora instance
 * endpoints) are resolved here, once per apply: the names of every listener's servers, the
 * writer endpoint's members included (left out, the writer's row was dropped from the
 * server-state file at each reload and the new worker started it in resolution maintenance:
 * no writer until HAProxy's resolvers answered, and PgBouncer's logins failed meanwhile).
 * Names that do not resolve are left out; the runtime plan then refuses (and the apply falls
 * back to a reload, where HAProxy resolves them).
 */
export async function resolveBundleNames(
  bundle: Bundle,
  resolve: HostResolver = systemResolver,
): Promise<Map<string, string>> {
  const names = new Set(
    bundle.clusters
      .flatMap(listenersOf)
      .flatMap((listener) => listener.servers.map((s) => s.address))
      .filter((a) => !IPV4.test(a)),
  );
  const resolved = new Map<string, string>();
  await Promise.all(
    [...names].map(async (name) => {
      try {
        const ip = await resolve(name);
        if (IPV4.test(ip)) resolved.set(name, ip);
      } catch {
        /* left out: see above */
      }
    }),
  );
  return resolved;
}
