import { azBackendName } from '@aurora-haproxy/contract/az-affinity';
import type { BundleCluster } from '@aurora-haproxy/contract/bundle';
import { DEFAULT_HOST_PORTS, PGBOUNCER_LISTEN_HOST } from '@aurora-haproxy/contract/host';
import { listenersOf, pgbouncerEntries } from '@aurora-haproxy/contract/listeners';
import { readerSlotName, slotNames, WRITER_SLOT } from '@aurora-haproxy/contract/names';
import { isTcpCheckMode } from '@aurora-haproxy/contract/registry';

/**
 * Plain view models for the templates: values only, no config text. Built from bundle
 * clusters that have already been validated against the contracts.
 */
export interface ServerView {
  name: string;
  spare: boolean;
  backup: boolean;
  address: string;
  port: number;
  weight: number;
  /** HAProxy slowstart of a reader slot ("10000ms"), or null: none (the writer's backup never). */
  slowStart: string | null;
}

/** A reader slot of the in-zone backend: tracks the slot of the same name in the cluster's. */
export interface AzServerView {
  name: string;
  /** Filled and in a known zone: rendered enabled only on hosts of that zone (`.if`). */
  zoned: boolean;
  /** `address:port`, the placeholder of a spare slot otherwise. */
  endpoint: string;
  weight: number;
  az: string;
  /** The reader slot's slowstart: a reader coming UP ramps up here too. */
  slowStart: string | null;
}

/** Only for clusters with azAffinity. */
export interface AzBackendView {
  name: string;
  servers: AzServerView[];
}

export interface ClusterView {
  clusterId: string;
  backend: string;
  port: number;
  balance: string;
  agentCheck: boolean;
  externalCheck: boolean;
  servers: ServerView[];
  azBackend: AzBackendView | false;
  /** The writer endpoint's listener, false when the cluster has none. */
  writer: WriterView | false;
}

export interface WriterView {
  backend: string;
  port: number;
  servers: ServerView[];
}

/** The global sections (templates/haproxy.cfg.hbs); the listen sections follow it. */
export interface HaproxyView {
  statsPort: number;
}

export interface PgbouncerDatabasesView {
  /** `params`: extra `key=value` words of the entry (pooling options), '' for none. */
  /** host= of every entry: the placeholder the agent expands (contracts/host.ts). */
  listenHost: string;
  databases: { alias: string; port: number; dbname: string; params: string }[];
}

export function haproxyView(): HaproxyView {
  return { statsPort: DEFAULT_HOST_PORTS.haproxyStats };
}

/**
 * One cluster's listen section (templates/haproxy-listen.cfg.hbs).
 * @param withServers false renders every slot as a spare: the structure of the config, whose
 *   sha256 tells a membership-only change (runtime API) from a structural one (reload).
 */
export function clusterView(cluster: BundleCluster, withServers: boolean): ClusterView {
  const byName = new Map(withServers ? cluster.servers.map((s) => [s.name, s]) : []);
  const names = slotNames(cluster.readerSlots, cluster.options.fallbackToWriter);
  const slowStartMs = cluster.options.slowStartMs ?? 0;
  return {
    clusterId: cluster.clusterId,
    backend: cluster.backend,
    port: cluster.port,
    balance: cluster.options.balance,
    agentCheck: isTcpCheckMode(cluster.options.checkMode),
    externalCheck: cluster.options.checkMode === 'external',
    servers: names.map((name) => {
      const server = byName.get(name);
      return {
        name,
        spare: server === undefined,
        backup: name === WRITER_SLOT,
        address: server?.address ?? '',
        port: server?.port ?? 0,
        weight: server?.weight ?? 0,
        slowStart: slowStartMs > 0 && name !== WRITER_SLOT ? `${slowStartMs}ms` : null,
      };
    }),
    azBackend: cluster.options.azAffinity ? azBackendView(cluster, byName) : false,
    writer: writerView(cluster, withServers),
  };
}

/** The writer endpoint's member slots (no slowstart: the one writer takes every connection). */
function writerView(cluster: BundleCluster, withServers: boolean): WriterView | false {
  const writer = listenersOf(cluster).find((l) => l.kind === 'writer');
  if (!writer) return false;
  const byName = new Map(withServers ? writer.servers.map((s) => [s.name, s]) : []);
  return {
    backend: writer.backend,
    port: writer.port,
    servers: writer.slotNames.map((name) => {
      const server = byName.get(name);
      return {
        name,
        spare: server === undefined,
        backup: false,
        address: server?.address ?? '',
        port: server?.port ?? 0,
        weight: server?.weight ?? 0,
        slowStart: null,
      };
    }),
  };
}

/**
 * The in-zone twin of the reader slots (not w1). A spare or a reader of unknown zone is
 * rendered `disabled` on every host; a filled slot is wrapped in `.if streq(...)` so that only
 * hosts of its zone enable it: the bytes are the same everywhere, and a restart or a reload
 * of any host comes back to its own preference with no agent step. Addresses and weights are
 * the reader slot's, so the runtime API keeps both in step (agent/apply/az-plan.ts).
 */
function azBackendView(
  cluster: BundleCluster,
  byName: ReadonlyMap<string, BundleCluster['servers'][number]>,
): AzBackendView {
  const slowStartMs = cluster.options.slowStartMs ?? 0;
  const slowStart = slowStartMs > 0 ? `${slowStartMs}ms` : null;
  const servers = Array.from({ length: cluster.readerSlots }, (_, i) => {
    const name = readerSlotName(i + 1);
    const server = byName.get(name);
    return {
      name,
      zoned: server?.az !== undefined,
      endpoint: server ? `${server.address}:${server.port}` : '192.0.2.1:5432',
      weight: server?.weight ?? 100,
      az: server?.az ?? '',
      slowStart,
    };
  });
  return { name: azBackendName(cluster.backend), servers };
}

export function pgbouncerDatabasesView(clusters: readonly BundleCluster[]): PgbouncerDatabasesView {
  return databasesView(clusters.flatMap(clusterDatabases));
}

/** The view of these [databases] entries (any order: they are sorted by alias). */
export function databasesView(databases: readonly PgbouncerDatabaseView[]): PgbouncerDatabasesView {
  const sorted = [...databases].sort((a, b) =>
    a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0,
  );
  return { listenHost: PGBOUNCER_LISTEN_HOST, databases: sorted };
}

export type PgbouncerDatabaseView = PgbouncerDatabasesView['databases'][number];

/** A frozen cluster's entries, made once (the render reuses unchanged clusters' objects). */
const databasesOfFrozen = new WeakMap<BundleCluster, readonly PgbouncerDatabaseView[]>();

/** A cluster's [databases] entries, in pgbouncerEntries order (frozen). */
export function clusterDatabases(cluster: BundleCluster): readonly PgbouncerDatabaseView[] {
  const known = databasesOfFrozen.get(cluster);
  if (known !== undefined) return known;
  const params = poolingParams(cluster.options);
  const databases = Object.freeze(
    pgbouncerEntries(cluster).map((e) =>
      Object.freeze({
        alias: e.alias,
        port: e.port,
        dbname: e.dbname,
        // The writer endpoint's alias has its own pool mode, and none of the readers' pooling.
        params: e.poolMode === undefined ? params : ` pool_mode=${e.poolMode}`,
      }),
    ),
  );
  if (Object.isFrozen(cluster)) databasesOfFrozen.set(cluster, databases);
  return databases;
}

/** PgBouncer per-database words of a cluster's pooling options, in a fixed order. */
function poolingParams(options: BundleCluster['options']): string {
  const words: string[] = [];
  if (options.poolMode !== undefined) words.push(`pool_mode=${options.poolMode}`);
  if (options.poolSize !== undefined) words.push(`pool_size=${options.poolSize}`);
  if ((options.maxDbConnections ?? 0) > 0) {
    words.push(`max_db_connections=${options.maxDbConnections}`);
  }
  return words.map((w) => ` ${w}`).join('');
}
