import type { BundleCluster, BundleServer } from './bundle';
import { memberSlotNames, slotNames } from './names';

/**
 * A cluster's HAProxy listeners and PgBouncer entries, one definition for the render, the
 * agent's apply (runtime plan, server-state rewrite, pending slot map, RECONNECT) and the
 * health daemon: the reader listener (always) and the writer endpoint's (options.writer).
 */
export type ListenerKind = 'readers' | 'writer';

export interface Listener {
  kind: ListenerKind;
  /** HAProxy backend (listen section) name. */
  backend: string;
  port: number;
  /** Every slot the listener renders, filled or spare, in config order (frozen, shared). */
  slotNames: readonly string[];
  /** The filled slots. */
  servers: BundleServer[];
}

export function listenersOf(cluster: BundleCluster): Listener[] {
  const readerSlots = slotNames(cluster.readerSlots, cluster.options.fallbackToWriter);
  const listeners: Listener[] = [
    {
      kind: 'readers',
      backend: cluster.backend,
      port: cluster.port,
      slotNames: readerSlots,
      servers: cluster.servers,
    },
  ];
  const endpoint = cluster.options.writer;
  if (cluster.writer && endpoint) {
    listeners.push({
      kind: 'writer',
      backend: cluster.writer.backend,
      port: endpoint.port,
      slotNames: memberSlotNames(cluster.writer.slots),
      servers: cluster.writer.servers,
    });
  }
  return listeners;
}

export interface PgbouncerEntry {
  alias: string;
  /** The HAProxy listener's port (PgBouncer connects to its unix socket). */
  port: number;
  dbname: string;
  /** The entry's own pool_mode; absent: PgBouncer's default pool_mode. */
  poolMode?: string;
  /** The backend behind it (which aliases a backend's change concerns). */
  backend: string;
}

/** The PgBouncer [databases] entries of a cluster: its reader aliases and its writer alias. */
export function pgbouncerEntries(cluster: BundleCluster): PgbouncerEntry[] {
  const entries: PgbouncerEntry[] = cluster.databases.map((d) => ({
    alias: d.alias,
    port: cluster.port,
    dbname: d.dbname,
    backend: cluster.backend,
  }));
  const endpoint = cluster.options.writer;
  if (endpoint && cluster.writer) {
    entries.push({
      alias: endpoint.alias,
      port: endpoint.port,
      dbname: endpoint.dbname,
      poolMode: endpoint.poolMode,
      backend: cluster.writer.backend,
    });
  }
  return entries;
}
