import { azBackendName, isPreferredOnHost } from '@aurora-haproxy/contract/az-affinity';
import type { BundleCluster } from '@aurora-haproxy/contract/bundle';
import type { RuntimeCommand } from '../haproxy/runtime-api';
import { ADMIN, type ServerStateRow } from '../haproxy/servers-state';

/**
 * The runtime commands that keep a cluster's in-zone backend (azAffinity,
 * templates/haproxy.cfg.hbs) in step with its reader slots on this host, for a change that
 * needs no reload. Pure: from the next bundle cluster, the live rows, the resolved addresses
 * and the host's zone.
 *
 * An in-zone slot tracks the reader slot of the same name, so its health, maintenance and
 * drain follow that slot by themselves (a server marked down or put in maintenance there is
 * down here too, and its sessions are shut here too). What is per host is only its own admin
 * state, and its address and weight, which must be the reader slot's. Per in-zone slot:
 * - reader slot empty in next, in-zone slot not in forced maint
 *     -> prepare: drain; after the drain wait: maint (its sessions leave with the reader
 *        slot's, through PgBouncer's RECONNECT, like the reader slot's own)
 * - filled, in-zone slot at another addr:port or weight
 *     -> prepare: drain if it serves (no new connection; running sessions stay, as on the
 *        reader slot), then addr [fqdn], weight
 * - filled and preferred on this host (contracts/az-affinity.ts), not yet ready
 *     -> ready: ready (after the reader slot's own commands, so it can only be as UP as the
 *        reader slot, which a fresh check must raise first)
 * - filled, not preferred, serving -> prepare: drain (never maint: that would shut the
 *        sessions it holds, failing their transactions; drained, it takes no new connection
 *        and is not counted by `nbsrv`, so the listener uses every reader)
 * A cluster without azAffinity has no in-zone backend: nothing.
 */
export interface AzPlan {
  /** Before the reader slots' commands. */
  prepare: RuntimeCommand[];
  /** After the reader slots' commands. */
  ready: RuntimeCommand[];
  /** In-zone slots drained for good: wait for their sessions, then `afterDrain`. */
  drained: { backend: string; server: string }[];
  afterDrain: RuntimeCommand[];
}

export class AzPlanError extends Error {
  override readonly name = 'AzPlanError';
}

export function planAzCommands(input: {
  cluster: BundleCluster;
  /** Live rows by backend, then slot (runtime-plan.ts LiveRows). */
  live: ReadonlyMap<string, ReadonlyMap<string, ServerStateRow>>;
  hostAz: string;
  /** The IPv4 a reader slot's server takes (addressOf in runtime-plan.ts). */
  ipOf: (server: BundleCluster['servers'][number]) => string;
  slots: readonly string[];
}): AzPlan {
  const plan: AzPlan = { prepare: [], ready: [], drained: [], afterDrain: [] };
  const { cluster, live, hostAz } = input;
  if (!cluster.options.azAffinity) return plan;
  const backend = azBackendName(cluster.backend);
  for (const slot of input.slots) {
    if (!/^r\d{2}$/.test(slot)) continue; // the writer's w1 is never in the in-zone backend
    const row = live.get(backend)?.get(slot);
    if (row === undefined) {
      throw new AzPlanError(`slot ${backend}/${slot} is not in the live HAProxy`);
    }
    const target = { backend, server: slot };
    const forcedMaint = (row.adminState & ADMIN.forcedMaint) !== 0;
    const forcedDrain = (row.adminState & ADMIN.forcedDrain) !== 0;
    const serving = !forcedMaint && !forcedDrain;
    const server = cluster.servers.find((s) => s.name === slot && s.role === 'reader');
    if (server === undefined) {
      if (!forcedMaint) {
        if (!forcedDrain) plan.prepare.push({ kind: 'state', ...target, state: 'drain' });
        plan.drained.push(target);
        plan.afterDrain.push({ kind: 'state', ...target, state: 'maint' });
      }
      continue;
    }
    const ip = input.ipOf(server);
    const readdress = row.address !== ip || row.port !== server.port;
    const preferred = isPreferredOnHost(cluster, server, hostAz);
    if (serving && (readdress || !preferred)) {
      plan.prepare.push({ kind: 'state', ...target, state: 'drain' });
    }
    if (readdress) {
      plan.prepare.push({ kind: 'addr', ...target, address: ip, port: server.port });
      if (ip !== server.address) {
        plan.prepare.push({ kind: 'fqdn', ...target, fqdn: server.address });
      }
    }
    if (readdress || row.userWeight !== server.weight) {
      plan.prepare.push({ kind: 'weight', ...target, weight: server.weight });
    }
    if (preferred && (readdress || !serving)) {
      plan.ready.push({ kind: 'state', ...target, state: 'ready' });
    }
  }
  return plan;
}
