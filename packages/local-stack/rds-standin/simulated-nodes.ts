import type { ConnectionOptions } from 'node:tls';
import type { SimulatedClusterNodes, SimulatedNode } from './live-postgres-source';

/**
 * Instance identifiers for the nodes of a simulated cluster (packages/local-stack/postgres-cluster.ts
 * names them primary, replica1, replica2, …): `<clusterId>-1` for the first node, then
 * `<clusterId>-<n+1>` for replica n, so an identifier never says "primary" about a node that
 * may have become a reader after a failover.
 */
export interface NamedPgNode {
  name: string;
  host: string;
  port: number;
}

export function instanceIdFor(clusterId: string, nodeName: string): string {
  if (nodeName === 'primary') return `${clusterId}-1`;
  const n = /^replica(\d+)$/.exec(nodeName)?.[1];
  if (n === undefined) throw new Error(`unexpected PostgreSQL node name ${nodeName}`);
  return `${clusterId}-${Number(n) + 1}`;
}

/**
 * A live-probed view of a postgres-cluster.ts cluster under `clusterId`; probes use the
 * cluster's TLS settings (its nodes accept TLS only).
 */
export function simulatedClusterNodes(
  clusterId: string,
  cluster: { nodes(): readonly NamedPgNode[]; ssl?(): ConnectionOptions },
  extra: (node: NamedPgNode) => Partial<SimulatedNode> = () => ({}),
  /** Instance id of a node (default instanceIdFor); undefined: not described (not an instance). */
  idOf: (node: NamedPgNode) => string | undefined = (node) => instanceIdFor(clusterId, node.name),
): SimulatedClusterNodes {
  return {
    clusterId,
    nodes: () =>
      cluster
        .nodes()
        .flatMap((node) => {
          const instanceId = idOf(node);
          return instanceId === undefined ? [] : [{ node, instanceId }];
        })
        .map(({ node, instanceId }) => ({
          instanceId,
          host: node.host,
          port: node.port,
          ...(cluster.ssl ? { ssl: cluster.ssl() } : {}),
          ...extra(node),
        })),
  };
}
