import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { SimulatedClusterView, SimulatedInstance, TopologySource } from './topology-source';

/**
 * A topology source that asks live PostgreSQL nodes who they are: a node that answers
 * `pg_is_in_recovery() = false` is the writer, one in recovery is a reader, one that does not
 * answer is reported with status `stopped` (or left out, `unreachableAs: 'omit'`) and is never
 * the writer while another node answers as primary. A node removed from its cluster's node list
 * is no longer described at all (deleted instance).
 */
export interface SimulatedNode {
  instanceId: string;
  /** Where the node listens (what this source probes). */
  host: string;
  port: number;
  /** What RDS reports as Endpoint.Address (the instance endpoint name); default `host`. */
  endpointAddress?: string;
  instanceClass?: string;
  az?: string;
  promotionTier?: number;
  /** TLS of the stand-in's probe (node-postgres `ssl`); plain TCP when absent. */
  ssl?: ConnectionOptions;
}

export interface SimulatedClusterNodes {
  clusterId: string;
  /** The cluster's current nodes (read on every request). */
  nodes(): readonly SimulatedNode[];
}

export interface LivePostgresSourceOptions {
  user?: string;
  database?: string;
  /** How long one probe may take before the node counts as unreachable. */
  connectTimeoutMs?: number;
  /** Probe results are reused this long so that the two calls of one reconcile agree. */
  cacheMs?: number;
  unreachableAs?: 'stopped' | 'omit';
}

const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];

export class LivePostgresSource implements TopologySource {
  private readonly clusterList: SimulatedClusterNodes[] = [];
  /** Role each node last answered with, kept while it does not answer. */
  private readonly lastRole = new Map<string, boolean>();
  /** Explicit status per instance (e.g. `modifying`), wins over the probe. */
  private readonly statusOverride = new Map<string, string>();
  private cache: { at: number; views: SimulatedClusterView[] } | undefined;

  constructor(
    clusters: readonly SimulatedClusterNodes[] = [],
    private readonly options: LivePostgresSourceOptions = {},
  ) {
    this.clusterList.push(...clusters);
  }

  addCluster(cluster: SimulatedClusterNodes): void {
    this.clusterList.push(cluster);
    this.invalidate();
  }

  removeCluster(clusterId: string): void {
    const i = this.clusterList.findIndex((c) => c.clusterId === clusterId);
    if (i >= 0) this.clusterList.splice(i, 1);
    this.invalidate();
  }

  setInstanceStatus(instanceId: string, status: string | undefined): void {
    if (status === undefined) this.statusOverride.delete(instanceId);
    else this.statusOverride.set(instanceId, status);
    this.invalidate();
  }

  /** Forget cached probes (call after changing a cluster). */
  invalidate(): void {
    this.cache = undefined;
  }

  async clusters(): Promise<SimulatedClusterView[]> {
    const cacheMs = this.options.cacheMs ?? 250;
    if (this.cache && Date.now() - this.cache.at < cacheMs)
      return structuredClone(this.cache.views);
    const views = await Promise.all(this.clusterList.map((c) => this.describe(c)));
    this.cache = { at: Date.now(), views };
    return structuredClone(views);
  }

  private async describe(cluster: SimulatedClusterNodes): Promise<SimulatedClusterView> {
    const nodes = [...cluster.nodes()];
    const probes = await Promise.all(nodes.map((n) => this.probe(n)));
    const someoneIsPrimary = probes.some((p) => p === 'primary');
    const instances: SimulatedInstance[] = [];
    nodes.forEach((node, i) => {
      const probe = probes[i];
      const key = `${cluster.clusterId}/${node.instanceId}`;
      let isWriter: boolean;
      let status: string;
      if (probe === 'unreachable') {
        if (this.options.unreachableAs === 'omit') return;
        isWriter = !someoneIsPrimary && (this.lastRole.get(key) ?? false);
        status = 'stopped';
      } else {
        isWriter = probe === 'primary';
        this.lastRole.set(key, isWriter);
        status = 'available';
      }
      instances.push({
        instanceId: node.instanceId,
        address: node.endpointAddress ?? node.host,
        port: node.port,
        isWriter,
        status: this.statusOverride.get(node.instanceId) ?? status,
        instanceClass: node.instanceClass ?? 'db.r6g.large',
        az: node.az ?? AZS[i % AZS.length] ?? 'us-east-1a',
        promotionTier: node.promotionTier ?? 1,
      });
    });
    const writers = instances.filter((i) => i.isWriter);
    const writer = writers[0];
    return {
      clusterId: cluster.clusterId,
      status: writers.length === 1 && writer?.status === 'available' ? 'available' : 'failing-over',
      port: writer?.port ?? nodes[0]?.port ?? 5432,
      instances,
    };
  }

  private async probe(node: SimulatedNode): Promise<'primary' | 'replica' | 'unreachable'> {
    const client = new pg.Client({
      host: node.host,
      port: node.port,
      user: this.options.user ?? 'postgres',
      database: this.options.database ?? 'postgres',
      ...(node.ssl ? { ssl: node.ssl } : {}),
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 1000,
      query_timeout: this.options.connectTimeoutMs ?? 1000,
    });
    client.on('error', () => {
      /* reported through the promise below */
    });
    try {
      await client.connect();
      const result = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return result.rows[0]?.r ? 'replica' : 'primary';
    } catch {
      return 'unreachable';
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
