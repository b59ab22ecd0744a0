import type { Bundle, BundleServer } from '@aurora-haproxy/contract/bundle';
import { type Listener, listenersOf } from '@aurora-haproxy/contract/listeners';
import { slotKey } from '@aurora-haproxy/contract/names';
import { IPV4 } from '@aurora-haproxy/contract/patterns';
import type { RuntimeCommand } from '../haproxy/runtime-api';
import {
  ADMIN,
  OP_STATE,
  passedCheck,
  rowFqdn,
  type ServerStateRow,
} from '../haproxy/servers-state';
import { AzPlanError, planAzCommands } from './az-plan';

/**
 * The runtime API commands that turn the live HAProxy into the next bundle's membership,
 * for a change with an unchanged structure. Pure: from the previous (applied) bundle, the
 * next bundle, the live `show servers state` rows, and the addresses resolved for DNS names.
 * Two phases: `commands` now; then, once PgBouncer moved its pooled connections (RECONNECT)
 * and the `drained` slots have no session left (or a timeout), `afterDrain`.
 *
 * Per slot (every r01..rNN, w1 when the cluster has fallbackToWriter, and the writer
 * endpoint's m01..mNN in its own backend):
 * - empty in next, live not in forced maint   -> now: drain; after: maint
 * - filled, live at another addr:port, in service (not forced maint):
 *     live UP/stopping -> now: health stopping, addr, [fqdn], weight, ready
 *     live DOWN        -> now: health down, addr, [fqdn], weight, ready
 * - filled, live in forced maint (a spare, or frozen by an interrupted apply)
 *                                              -> now: [addr], weight, drain, [fqdn], health down,
 *                                                 ready
 * - filled, same addr:port, new to the slot, or left drained -> now: [weight], ready
 * - filled, same server, weight changed       -> now: weight
 * - anything else                             -> nothing (idempotent)
 * ([fqdn] only for a DNS name: `addr` takes the resolved IP, `fqdn` keeps HAProxy following
 * the name. A slot counts as re-addressed also when HAProxy follows another name there. `fqdn`
 * comes after `drain` for a slot in maintenance: measured on HAProxy 2.6.12, `set server …
 * fqdn` on a server in forced maintenance drops its address and leaves it in resolution
 * maintenance (admin state 0x20) that `state ready` does not lift; out of maintenance the
 * name resolves and the server keeps the address `addr` set.)
 * Pass condition of a re-addressed or re-enabled slot: it is never UP at its new address
 * before a health check made after the change passed (issue 16 #1). HAProxy leaves a
 * re-addressed UP server UP and makes a server leaving maintenance UP at once
 * (docs/HAPROXY-FACTS.md#readdress), so
 * an in-service slot is forced to `stopping` first (no new connection, its running sessions
 * stay: `down` would end them through `on-marked-down shutdown-sessions` and fail their
 * transactions; the next passing check makes it UP), and a slot leaving maintenance goes
 * through `drain` (out of maint, no traffic), `health down` (health 0), then `ready`, so it
 * needs `rise` passing checks. A slot already DOWN is forced down again (health 0: `rise`
 * checks), never to `stopping`, which would raise it. The checks that follow judge the new
 * server: in external mode the address itself, in agent mode every server the slot may live
 * at (apply has the health daemon load the pending slot map before running this plan).
 * Why drain first for a removed server, not maint: the config shuts a server's sessions when
 * it goes down or into maintenance (`on-marked-down shutdown-sessions`, so reads never stay
 * on a promoted writer). Drain stops new connections and keeps running ones, which
 * PgBouncer's RECONNECT moves as each is released, so no transaction fails. A re-addressed
 * slot is changed at once (its running sessions stay on the old address until PgBouncer
 * releases them): waiting for them would leave a one-reader cluster with no server meanwhile.
 * Fills come before drains, so capacity never dips first. The in-zone backends of clusters
 * with azAffinity are kept in step around them (az-plan.ts: its `prepare` first, its `ready`
 * after the fills).
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
  /**
   * This host's Availability Zone ('' when unknown), for the in-zone backends of clusters with
   * azAffinity (az-plan.ts); absent: as ''.
   */
  hostAz?: string;
}

/** Every listener of a bundle (each cluster's reader listener and writer endpoint's). */
export function bundleListeners(bundle: Bundle | undefined): Listener[] {
  return (bundle?.clusters ?? []).flatMap(listenersOf);
}

/** A bundle's listeners by backend name. */
export function listenersByBackend(bundle: Bundle | undefined): Map<string, Listener> {
  return new Map(bundleListeners(bundle).map((l) => [l.backend, l]));
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

/** Live rows by backend, then slot: no `<backend>/<slot>` string built per lookup. */
export type LiveRows = ReadonlyMap<string, ReadonlyMap<string, ServerStateRow>>;

function liveRowsOf(rows: readonly ServerStateRow[]): LiveRows {
  const byBackend = new Map<string, Map<string, ServerStateRow>>();
  for (const row of rows) {
    const slots = byBackend.get(row.backend) ?? new Map<string, ServerStateRow>();
    byBackend.set(row.backend, slots.set(row.server, row));
  }
  return byBackend;
}

const byName = (servers: readonly BundleServer[] | undefined) =>
  new Map((servers ?? []).map((s) => [s.name, s]));

export function planRuntimeCommands(input: RuntimePlanInput): RuntimePlan {
  // Maps, not a search per slot: 500 clusters x 32 slots made the lookups most of a tick.
  const live = liveRowsOf(input.live);
  const fills: RuntimeCommand[] = [];
  const drains: RuntimeCommand[] = [];
  const drained: SlotRef[] = [];
  const afterDrain: RuntimeCommand[] = [];
  const azPrepare: RuntimeCommand[] = [];
  const azReady: RuntimeCommand[] = [];
  // By backend, not by a search per cluster: a fleet of 5,000 clusters made that quadratic.
  const previousListeners = listenersByBackend(input.previous);
  for (const cluster of input.next.clusters) {
    const listeners = listenersOf(cluster);
    if (cluster.options.azAffinity) {
      try {
        const az = planAzCommands({
          cluster,
          live,
          hostAz: input.hostAz ?? '',
          ipOf: (server) => addressOf(server, input.resolved),
          // The reader listener's: slotNames(readerSlots, fallbackToWriter).
          slots: (listeners[0] as Listener).slotNames,
        });
        azPrepare.push(...az.prepare);
        azReady.push(...az.ready);
        drained.push(...az.drained);
        afterDrain.push(...az.afterDrain);
      } catch (error) {
        if (error instanceof AzPlanError) throw new RuntimePlanError(error.message);
        throw error;
      }
    }
    for (const listener of listeners) {
      const liveSlots = live.get(listener.backend);
      const nextServers = byName(listener.servers);
      const previousServers = byName(previousListeners.get(listener.backend)?.servers);
      for (const slot of listener.slotNames) {
        const row = liveSlots?.get(slot);
        if (row === undefined) {
          throw new RuntimePlanError(
            `slot ${slotKey(listener.backend, slot)} is not in the live HAProxy`,
          );
        }
        const next = nextServers.get(slot);
        const previous = previousServers.get(slot);
        const forcedMaint = (row.adminState & ADMIN.forcedMaint) !== 0;
        if (next === undefined) {
          if (!forcedMaint) {
            const target = { backend: listener.backend, server: slot };
            drains.push({ kind: 'state', ...target, state: 'drain' });
            drained.push(target);
            afterDrain.push({ kind: 'state', ...target, state: 'maint' });
          }
          continue;
        }
        const ip = addressOf(next, input.resolved);
        const name = ip !== next.address ? next.address : undefined;
        const readdress =
          row.address !== ip ||
          row.port !== next.port ||
          (name !== undefined && rowFqdn(row) !== name);
        const sameServer =
          previous !== undefined &&
          previous.instanceId === next.instanceId &&
          previous.address === next.address &&
          previous.port === next.port;
        const weighs = readdress || forcedMaint || !sameServer || previous.weight !== next.weight;
        if (!forcedMaint && !readdress) {
          // Same address: the checks have judged this server all along (a drain left by an
          // interrupted apply is lifted; drain does not stop checks). Most slots of a tick
          // end here with nothing to do: nothing is allocated for them.
          const ready = !sameServer || (row.adminState & ADMIN.forcedDrain) !== 0;
          if (!weighs && !ready) continue;
          const target = { backend: listener.backend, server: slot };
          if (weighs) fills.push({ kind: 'weight', ...target, weight: next.weight });
          if (ready) fills.push({ kind: 'state', ...target, state: 'ready' });
          continue;
        }
        const target = { backend: listener.backend, server: slot };
        const address: RuntimeCommand[] = readdress
          ? [{ kind: 'addr', ...target, address: ip, port: next.port }]
          : [];
        const follow: RuntimeCommand[] =
          readdress && name !== undefined ? [{ kind: 'fqdn', ...target, fqdn: name }] : [];
        const weight: RuntimeCommand[] = weighs
          ? [{ kind: 'weight', ...target, weight: next.weight }]
          : [];
        const ready: RuntimeCommand = { kind: 'state', ...target, state: 'ready' };
        if (forcedMaint) {
          fills.push(
            ...address,
            ...weight,
            { kind: 'state', ...target, state: 'drain' },
            ...follow,
            { kind: 'health', ...target, health: 'down' },
            ready,
          );
        } else {
          const up = passedCheck(row.opState) || row.opState === OP_STATE.stopping;
          fills.push(
            { kind: 'health', ...target, health: up ? 'stopping' : 'down' },
            ...address,
            ...follow,
            ...weight,
            ready,
          );
        }
      }
    }
  }
  return { commands: [...azPrepare, ...fills, ...azReady, ...drains], drained, afterDrain };
}

/**
 * Backends where a server of the previous bundle leaves its slot (removed, replaced or
 * re-addressed). PgBouncer's pooled connections to it outlive `state maint`, so those
 * clusters' databases get a RECONNECT (each connection closes once released, so no
 * transaction fails) and the pool follows the new membership.
 */
export function backendsLosingServers(previous: Bundle | undefined, next: Bundle): Set<string> {
  const losing = new Set<string>();
  const previousListeners = listenersByBackend(previous);
  for (const listener of bundleListeners(next)) {
    const before = previousListeners.get(listener.backend);
    for (const server of before?.servers ?? []) {
      const now = listener.servers.find((s) => s.name === server.name);
      if (
        now === undefined ||
        now.instanceId !== server.instanceId ||
        now.address !== server.address ||
        now.port !== server.port
      ) {
        losing.add(listener.backend);
      }
    }
  }
  return losing;
}
