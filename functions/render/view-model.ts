import type { BundleCluster } from '../contracts/bundle';
import { DEFAULT_HOST_PORTS } from '../contracts/host';
import { readerSlotName } from './slots';

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
}

export interface ClusterView {
  clusterId: string;
  backend: string;
  port: number;
  balance: string;
  agentCheck: boolean;
  externalCheck: boolean;
  servers: ServerView[];
}

export interface HaproxyView {
  statsPort: number;
  clusters: ClusterView[];
}

export interface PgbouncerDatabasesView {
  databases: { alias: string; port: number; dbname: string }[];
}

/**
 * @param withServers false renders every slot as a spare: the structure of the config, whose
 *   sha256 tells a membership-only change (runtime API) from a structural one (reload).
 */
export function haproxyView(clusters: readonly BundleCluster[], withServers: boolean): HaproxyView {
  return {
    statsPort: DEFAULT_HOST_PORTS.haproxyStats,
    clusters: clusters.map((cluster) => clusterView(cluster, withServers)),
  };
}

function clusterView(cluster: BundleCluster, withServers: boolean): ClusterView {
  const byName = new Map(withServers ? cluster.servers.map((s) => [s.name, s]) : []);
  const slotNames = Array.from({ length: cluster.readerSlots }, (_, i) => readerSlotName(i + 1));
  if (cluster.options.fallbackToWriter) slotNames.push('w1');
  return {
    clusterId: cluster.clusterId,
    backend: cluster.backend,
    port: cluster.port,
    balance: cluster.options.balance,
    agentCheck: cluster.options.checkMode === 'agent',
    externalCheck: cluster.options.checkMode === 'external',
    servers: slotNames.map((name) => {
      const server = byName.get(name);
      return {
        name,
        spare: server === undefined,
        backup: name === 'w1',
        address: server?.address ?? '',
        port: server?.port ?? 0,
        weight: server?.weight ?? 0,
      };
    }),
  };
}

export function pgbouncerDatabasesView(clusters: readonly BundleCluster[]): PgbouncerDatabasesView {
  const databases = clusters.flatMap((cluster) =>
    cluster.databases.map((db) => ({ alias: db.alias, port: cluster.port, dbname: db.dbname })),
  );
  databases.sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
  return { databases };
}
