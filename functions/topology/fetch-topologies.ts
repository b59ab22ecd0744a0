import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import type { DBCluster, DBInstance, RDSClient } from '@aws-sdk/client-rds';
import type { Log, MetricSink } from '../shared/observability';
import type { CachedTopology, Observation } from '../state/topology-cache';
import {
  type DescribeCounters,
  describeClusters,
  describeInstances,
  RDS_FILTER_VALUES_MAX,
} from './describe';
import { RdsApiError } from './errors';
import { mapClusterTopology, sameTopology } from './map';

/** The part of the topology cache fetchTopologies uses (state/topology-cache.ts). */
export interface TopologyCacheLike {
  getMany(clusterIds: readonly string[]): Promise<Map<string, CachedTopology>>;
  saveGood(topology: ClusterTopology): Promise<void>;
  recordProblem(clusterId: string, observation: Observation): Promise<void>;
}

export interface TopologyDeps {
  rds: RDSClient;
  cache: TopologyCacheLike;
  log: Log;
  metrics: MetricSink;
  now: () => Date;
}

export interface TopologyReport {
  /** One entry for every requested cluster: fresh, stale (last known) or notFound. */
  topologies: Map<string, ClusterTopology>;
  stale: string[];
  notFound: string[];
  /** RDS API requests made (pages; SDK retries not counted). */
  rdsCalls: number;
}

export const TOPOLOGY_METRICS = {
  fault: 'TopologyFault',
  invalid: 'TopologyInvalidValue',
  notFound: 'TopologyNotFound',
  rdsCalls: 'RdsApiCalls',
} as const;

/**
 * The topology of every registered cluster, from 2 RDS calls per 100 clusters
 * (DescribeDBClusters + DescribeDBInstances, both filtered by db-cluster-id, paginated,
 * the two in parallel); never a call per member or per host.
 *
 * A fault is never a topology change:
 * - an RDS call that fails after the SDK's retries (throttling, 5xx, timeout) -> every
 *   cluster of that batch gets its last known topology from the cache, `stale: true` with
 *   the reason, logged and counted;
 * - an invalid RDS value -> that cluster alone is treated the same way (nothing of the bad
 *   answer is rendered);
 * - with no last known topology there is nothing to keep: the cluster is reported stale
 *   with no members (it was never served, so no server is removed).
 *
 * A registered cluster absent from the answer (or DBClusterNotFoundFault for a one-cluster
 * batch) is reported `notFound: true` and keeps its last known members, `stale: true`: an
 * operator removes it from the registry; until then its servers stay and simply fail their
 * health checks if they are really gone. Emptying it silently could turn a transient RDS
 * inconsistency, or a mistyped filter, into an outage.
 */
export async function fetchTopologies(
  deps: TopologyDeps,
  clusterIds: readonly string[],
  /** The cache entries of these clusters, when the caller has just read them. */
  preread?: ReadonlyMap<string, CachedTopology>,
): Promise<TopologyReport> {
  const ids = [...new Set(clusterIds.map((id) => id.toLowerCase()))].sort();
  const report: TopologyReport = { topologies: new Map(), stale: [], notFound: [], rdsCalls: 0 };
  if (ids.length === 0) return report;
  const cached = preread ?? (await deps.cache.getMany(ids));
  const counters: DescribeCounters = { calls: 0 };
  const now = deps.now();

  for (let i = 0; i < ids.length; i += RDS_FILTER_VALUES_MAX) {
    const batch = ids.slice(i, i + RDS_FILTER_VALUES_MAX);
    let clusters: DBCluster[];
    let instances: DBInstance[];
    try {
      // Both settle before going on: no request of this run is left running behind it.
      const [c, i] = await Promise.allSettled([
        describeClusters(deps.rds, batch, counters),
        describeInstances(deps.rds, batch, counters),
      ]);
      if (c.status === 'rejected') throw c.reason;
      if (i.status === 'rejected') throw i.reason;
      clusters = c.value;
      instances = i.value;
    } catch (error) {
      if (!(error instanceof RdsApiError)) throw error;
      if (error.awsName === 'DBClusterNotFoundFault' && batch.length === 1) {
        await markNotFound(deps, report, batch[0] as string, cached, now);
        continue;
      }
      deps.metrics.count(TOPOLOGY_METRICS.fault, batch.length);
      deps.log.warn('RDS API fault: serving the last known topology', {
        clusters: batch,
        error: error.message,
      });
      for (const id of batch) await fallBack(deps, report, id, error.message, cached, now);
      continue;
    }

    const clustersById = new Map(clusters.map((c) => [c.DBClusterIdentifier?.toLowerCase(), c]));
    const instancesById = new Map(
      instances.flatMap((inst) =>
        inst.DBInstanceIdentifier ? [[inst.DBInstanceIdentifier.toLowerCase(), inst] as const] : [],
      ),
    );
    const saves: ClusterTopology[] = [];
    for (const id of batch) {
      const cluster = clustersById.get(id);
      if (!cluster) {
        await markNotFound(deps, report, id, cached, now);
        continue;
      }
      const mapped = mapClusterTopology(cluster, instancesById, now);
      if (!mapped.ok) {
        deps.metrics.count(TOPOLOGY_METRICS.invalid);
        deps.log.error('invalid RDS value: serving the last known topology', {
          clusterId: id,
          problem: mapped.problem,
        });
        await fallBack(deps, report, id, `invalid RDS value: ${mapped.problem}`, cached, now);
        continue;
      }
      if (mapped.skipped.length > 0) {
        deps.log.info('members not served yet', { clusterId: id, skipped: mapped.skipped });
      }
      report.topologies.set(id, mapped.topology);
      const previous = cached.get(id);
      if (
        !previous?.topology ||
        !previous.observation?.ok ||
        !sameTopology(previous.topology, mapped.topology)
      ) {
        saves.push(mapped.topology);
      }
    }
    // Changed topologies are cached together (a first run writes every cluster).
    await Promise.all(saves.map((topology) => deps.cache.saveGood(topology)));
  }
  report.rdsCalls = counters.calls;
  deps.metrics.count(TOPOLOGY_METRICS.rdsCalls, counters.calls);
  return report;
}

async function fallBack(
  deps: TopologyDeps,
  report: TopologyReport,
  clusterId: string,
  problem: string,
  cached: ReadonlyMap<string, CachedTopology>,
  now: Date,
) {
  const last = cached.get(clusterId)?.topology;
  const reason = truncate(last ? problem : `${problem}; no last known topology`);
  report.topologies.set(
    clusterId,
    last
      ? { ...last, stale: true, problem: reason }
      : { ...neverObserved(clusterId, now), stale: true, problem: reason },
  );
  report.stale.push(clusterId);
  await recordProblem(deps, clusterId, { ok: false, problem: reason, at: now.toISOString() });
}

async function markNotFound(
  deps: TopologyDeps,
  report: TopologyReport,
  clusterId: string,
  cached: ReadonlyMap<string, CachedTopology>,
  now: Date,
) {
  const problem = 'cluster not found by DescribeDBClusters: remove it from the registry';
  deps.metrics.count(TOPOLOGY_METRICS.notFound);
  deps.log.warn('registered cluster not found: keeping its last known members', { clusterId });
  const last = cached.get(clusterId)?.topology;
  report.topologies.set(clusterId, {
    ...(last ?? neverObserved(clusterId, now)),
    stale: true,
    notFound: true,
    problem,
  });
  report.notFound.push(clusterId);
  await recordProblem(deps, clusterId, {
    ok: false,
    notFound: true,
    problem,
    at: now.toISOString(),
  });
}

/** Recording the problem is for `status` only: failing to record it must not fail reconcile. */
async function recordProblem(deps: TopologyDeps, clusterId: string, observation: Observation) {
  try {
    await deps.cache.recordProblem(clusterId, observation);
  } catch (error) {
    deps.log.warn('could not record the topology problem', {
      clusterId,
      error: errorMessage(error),
    });
  }
}

function truncate(text: string): string {
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

/** A cluster RDS never described to us: no members, status and engine unknown. */
function neverObserved(clusterId: string, now: Date) {
  return {
    clusterId,
    status: 'unknown',
    engine: 'unknown',
    members: [],
    observedAt: now.toISOString(),
  };
}
