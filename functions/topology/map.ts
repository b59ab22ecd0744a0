import { markParsed } from '@aurora-haproxy/contract/parsed-marks';
import { type ClusterTopology, ClusterTopologySchema } from '@aurora-haproxy/contract/topology';
import type { DBCluster, DBInstance } from '@aws-sdk/client-rds';

/**
 * Map one cluster of a DescribeDBClusters answer, joined with the DescribeDBInstances
 * answer, to the Topology contract. Pure.
 *
 * Pass conditions:
 * - members are the cluster's DBClusterMembers (the cluster's own list is authoritative;
 *   an instance that names the cluster but is not a member is ignored);
 * - isWriter comes from DBClusterMembers.IsClusterWriter, address/port from the
 *   instance's Endpoint, status/class/AZ from the instance;
 * - a member whose instance has no Endpoint yet (status creating) cannot be served and is
 *   skipped (listed in `skipped`);
 * - a member missing from the instance answer makes the two answers inconsistent (created
 *   or deleted between the two calls, or a truncated answer): the cluster is invalid
 *   ({ok: false}) and keeps its last known servers until both answers agree — dropping a
 *   served reader on a partial answer would be a fault removing a server;
 * - every value is validated by ClusterTopologySchema: any invalid value makes the whole
 *   cluster invalid ({ok: false}), so nothing from a bad answer is rendered;
 * - an instance listed twice in DBClusterMembers (e.g. the writer again as a reader) makes
 *   the cluster invalid: which role it has is unknown, and it must not reach the cache.
 */
export type MapResult =
  | { ok: true; topology: ClusterTopology; skipped: string[] }
  | { ok: false; problem: string };

export function mapClusterTopology(
  cluster: DBCluster,
  instancesById: ReadonlyMap<string, DBInstance>,
  observedAt: Date,
): MapResult {
  const skipped: string[] = [];
  const members: unknown[] = [];
  const seen = new Set<string>();
  for (const member of cluster.DBClusterMembers ?? []) {
    const id = member.DBInstanceIdentifier;
    if (typeof id !== 'string')
      return { ok: false, problem: 'a member has no DBInstanceIdentifier' };
    if (seen.has(id.toLowerCase())) {
      return { ok: false, problem: `member ${JSON.stringify(id.slice(0, 64))} is listed twice` };
    }
    seen.add(id.toLowerCase());
    if (typeof member.IsClusterWriter !== 'boolean') {
      return { ok: false, problem: `member ${id} has no IsClusterWriter` };
    }
    const instance = instancesById.get(id.toLowerCase());
    if (!instance) {
      return {
        ok: false,
        problem: `member ${JSON.stringify(id.slice(0, 64))} is not in the DescribeDBInstances answer`,
      };
    }
    if (!instance.Endpoint?.Address) {
      skipped.push(`${id}: no endpoint yet (status ${instance.DBInstanceStatus ?? 'unknown'})`);
      continue;
    }
    members.push({
      instanceId: id,
      address: instance.Endpoint.Address,
      port: instance.Endpoint.Port,
      isWriter: member.IsClusterWriter,
      status: instance.DBInstanceStatus,
      instanceClass: instance.DBInstanceClass,
      ...(instance.AvailabilityZone !== undefined ? { az: instance.AvailabilityZone } : {}),
    });
  }
  const parsed = ClusterTopologySchema.safeParse({
    clusterId: cluster.DBClusterIdentifier,
    status: cluster.Status,
    engine: cluster.Engine,
    members,
    observedAt: observedAt.toISOString(),
    stale: false,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      problem: `${issue?.path.join('.') || '(cluster)'}: ${issue?.message}`,
    };
  }
  const topology = parsed.data;
  topology.members.sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  // Marked once sorted: the render does not parse it again (contracts/parsed-marks.ts).
  return { ok: true, topology: markParsed(ClusterTopologySchema, topology), skipped };
}

/** Members and status equal (observedAt aside): nothing worth writing to the cache. */
export function sameTopology(a: ClusterTopology, b: ClusterTopology): boolean {
  const strip = (t: ClusterTopology) =>
    JSON.stringify({ c: t.clusterId, s: t.status, e: t.engine, m: t.members });
  return strip(a) === strip(b);
}
