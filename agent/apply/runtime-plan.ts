import type { Bundle, BundleCluster, BundleServer } from '../../functions/contracts/bundle';
import { IPV4 } from '../../functions/contracts/patterns';
import type { RuntimeCommand } from '../haproxy/runtime-api';
import { ADMIN, rowKey, type ServerStateRow } from '../haproxy/servers-state';

/**
 * The runtime API commands that turn the live HAProxy into the next bundle's membership,
 * for a change with an unchanged structure. Pure: from the previous (applied) bundle, the
 * next bundle, the live `show servers state` rows, and the addresses resolved for DNS names.
 * Two phases: `commands` now; then, once PgBouncer moved its pooled connections (RECONNECT)
 * and the `drained` slots have no session left (or a timeout), `afterDrain`.
 *
 * Per slot (every r01..rNN, and w1 when the cluster has fallbackToWriter):
 * - empty in next, live not in forced maint   -> now: drain; after: maint
 * - filled, live at another addr:port         -> now: [drain if in service], addr, [fqdn],
 *                                                weight, ready
 * - filled, same addr:port, new to the slot   -> now: weight, ready
 * - filled, same server, live in forced maint -> now: ready (an interrupted apply froze it)
 * - filled, same server, weight changed       -> now: weight
 * - anything else                             -> nothing (idempotent)
 * ([fqdn] only for a DNS name: `addr` takes the resolved IP, `fqdn` keeps HAProxy following
 * the name.)
 * Why drain first, not maint: the config shuts a server's sessions when it goes down or into
 * maintenance (`on-marked-down shutdown-sessions`, so reads never stay on a promoted writer).
 * Drain stops new connections and keeps running ones, which PgBouncer's RECONNECT moves as
 * each is released, so no transaction fails. A re-addressed slot is changed at once (its
 * running sessions stay on the old address until PgBouncer releases them): waiting for them
 * with the slot drained would leave a one-reader cluster with no server meanwhile.
 * Fills come before drains, so capacity never dips first.
 * Throws RuntimePlanError when a slot is missing from the live HAProxy: the caller reloads.
 */
export class RuntimePlanError extends Error {
  override readonly name = 'RuntimePlanError';
}

export interface RuntimePlanInput {
  previous: Bundle | undefined;
  next: Bundle;
  live: readonly ServerStateRow[];
  /** DNS name -> IPv4, for every server address that is not an IPv4 literal. */
  resolved: ReadonlyMap<string, string>;
}

export function slotNames(cluster: BundleCluster): string[] {
  const names = Array.from(
    { length: cluster.readerSlots },
    (_, i) => `r${String(i + 1).padStart(2, '0')}`,
  );
  if (cluster.options.fallbackToWriter) names.push('w1');
  return names;
}

export function addressOf(server: BundleServer, resolved: ReadonlyMap<string, string>): string {
  if (IPV4.test(server.address)) return server.address;
  const ip = resolved.get(server.address);
  if (ip === undefined) throw new RuntimePlanError(`${server.address} was not resolved`);
  return ip;
}

export interface SlotRef {
  backend: string;
  server: string;
}

export interface RuntimePlan {
  /** Run now, in this order. */
  commands: RuntimeCommand[];
  /** Slots drained by `commands`: wait for their sessions to leave before `afterDrain`. */
  drained: SlotRef[];
  /** Run once the drained slots are empty (maint for freed slots, re-addressing for moved ones). */
  afterDrain: RuntimeCommand[];
}

export function planRuntimeCommands(input: RuntimePlanInput): RuntimePlan {
  const live = new Map(input.live.map((row) => [rowKey(row.backend, row.server), row]));
  const fills: RuntimeCommand[] = [];
  const drains: RuntimeCommand[] = [];
  const drained: SlotRef[] = [];
  const afterDrain: RuntimeCommand[] = [];
  for (const cluster of input.next.clusters) {
    const previousCluster = input.previous?.clusters.find(
      (c) => c.clusterId === cluster.clusterId && c.backend === cluster.backend,
    );
    for (const slot of slotNames(cluster)) {
      const row = live.get(rowKey(cluster.backend, slot));
      if (row === undefined) {
        throw new RuntimePlanError(`slot ${cluster.backend}/${slot} is not in the live HAProxy`);
      }
      const next = cluster.servers.find((s) => s.name === slot);
      const previous = previousCluster?.servers.find((s) => s.name === slot);
      const target = { backend: cluster.backend, server: slot };
      const forcedMaint = (row.adminState & ADMIN.forcedMaint) !== 0;
      if (next === undefined) {
        if (!forcedMaint) {
          drains.push({ kind: 'state', ...target, state: 'drain' });
          drained.push(target);
          afterDrain.push({ kind: 'state', ...target, state: 'maint' });
        }
        continue;
      }
      const ip = addressOf(next, input.resolved);
      const readdress = row.address !== ip || row.port !== next.port;
      const sameServer =
        previous !== undefined &&
        previous.instanceId === next.instanceId &&
        previous.address === next.address &&
        previous.port === next.port;
      const steps: RuntimeCommand[] = [];
      if (readdress) {
        steps.push({ kind: 'addr', ...target, address: ip, port: next.port });
        if (ip !== next.address) steps.push({ kind: 'fqdn', ...target, fqdn: next.address });
      }
      if (readdress || !sameServer || previous.weight !== next.weight) {
        steps.push({ kind: 'weight', ...target, weight: next.weight });
      }
      if (readdress || forcedMaint || !sameServer) {
        steps.push({ kind: 'state', ...target, state: 'ready' });
      }
      // In service at another address: drain first, so no new connection goes to the slot
      // while it is half changed (a few ms; waiting longer would leave a one-reader cluster
      // with no server while PgBouncer reconnects).
      if (readdress && !forcedMaint) fills.push({ kind: 'state', ...target, state: 'drain' });
      fills.push(...steps);
    }
  }
  return { commands: [...fills, ...drains], drained, afterDrain };
}

/**
 * Backends where a server of the previous bundle leaves its slot (removed, replaced or
 * re-addressed). PgBouncer's pooled connections to it outlive `state maint`, so those
 * clusters' databases get a RECONNECT (each connection closes once released, so no
 * transaction fails) and the pool follows the new membership.
 */
export function backendsLosingServers(previous: Bundle | undefined, next: Bundle): Set<string> {
  const losing = new Set<string>();
  for (const cluster of next.clusters) {
    const before = previous?.clusters.find((c) => c.backend === cluster.backend);
    for (const server of before?.servers ?? []) {
      const now = cluster.servers.find((s) => s.name === server.name);
      if (
        now === undefined ||
        now.instanceId !== server.instanceId ||
        now.address !== server.address ||
        now.port !== server.port
      ) {
        losing.add(cluster.backend);
      }
    }
  }
  return losing;
}
