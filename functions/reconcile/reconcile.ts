import type { Bundle } from '@aurora-haproxy/contract/bundle';
import type { DesiredStateItem } from '@aurora-haproxy/contract/bundle-item';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import {
  type DeliveryDeps,
  type DeliveryReport,
  deliverDesired,
  redeliverWhereNeeded,
} from '../delivery/deliver';
import { eventCovered } from '../events/coalesce';
import type { Trigger } from '../events/parse-trigger';
import { decideRelevance } from '../events/relevance';
import type { RenderInput } from '../render/render-bundle';
import type { Log, MetricSink } from '../shared/observability';
import { DesiredPointerConflictError, StoredItemInvalidError } from '../state/errors';
import type { CachedTopology } from '../state/topology-cache';
import {
  fetchTopologies,
  type TopologyCacheLike,
  type TopologyDeps,
} from '../topology/fetch-topologies';
import { ReconcileConflictError } from './errors';
import { differsOnlyInStaleness } from './staleness-only';

export interface ReconcileDeps {
  registry: { list(): Promise<RegistryCluster[]> };
  /** RDS client, topology cache, log, metrics, clock for fetchTopologies. */
  topology: TopologyDeps & { cache: TopologyCacheLike };
  bundles: {
    put(bundle: Bundle): Promise<'stored' | 'existed'>;
    /** Store again over an unreadable (or missing) item of the same sha. */
    replace(bundle: Bundle): Promise<void>;
    get(sha256: string, options?: { fresh?: boolean }): Promise<Bundle | undefined>;
  };
  pointer: {
    read(): Promise<DesiredStateItem | undefined>;
    swap(expectedVersion: number | undefined, sha256: string, now: Date): Promise<DesiredStateItem>;
  };
  delivery: DeliveryDeps;
  /** When the latest complete reconcile looked at RDS (state/reconcile-mark.ts). */
  mark: { read(): Promise<string | undefined>; advance(lookedAt: Date): Promise<void> };
  render: (input: RenderInput, now: Date) => Bundle;
  log: Log;
  metrics: MetricSink;
  now: () => Date;
}

export interface ReconcileSummary {
  /** The desired sha after this run (absent when the trigger was ignored). */
  sha256?: string;
  /** This run moved the desired pointer to a new bundle. */
  changed: boolean;
  /** Instances this run sent the desired sha to (new bundle or re-delivery). */
  delivered: number;
  staleClusters: string[];
  notFoundClusters: string[];
  /** Clusters whose RDS answer could not be rendered: they kept their servers (also stale). */
  heldBackClusters: string[];
  /** The desired bundle was unreadable or missing and this run stored it again. */
  repairedDesired?: boolean;
  /** Why the run acted, or why it ignored the trigger. */
  reason: string;
  acted: boolean;
  rdsCalls: number;
  /** Delivery could not be done now; the scheduled check retries. */
  deliveryError?: string;
}

export const RECONCILE_METRICS = {
  ignored: 'TriggersIgnored',
  changed: 'DesiredStateChanged',
  unchanged: 'DesiredStateUnchanged',
  lostRace: 'ReconcileLostRace',
  stalenessOnly: 'StalenessOnlyChangeSkipped',
  deliveryErrors: 'DeliveryErrors',
  heldBack: 'ClustersHeldBack',
  repaired: 'DesiredBundleRepaired',
  unsafe: 'PublishWithheld',
} as const;

/**
 * One level-triggered reconcile: an event only says "look again".
 *
 * registry.list -> fetchTopologies (2 RDS calls per 100 clusters) -> renderBundle (the
 * current desired bundle as `previous`, so readers keep their slots) -> if the sha equals
 * the desired pointer's, nothing is stored or sent; else the bundle is stored
 * (content-addressed, idempotent) and the pointer moved with a compare-and-swap on its
 * version -> the new sha is delivered to the fleet and the commands recorded. On the
 * schedule (and on admin request) an unchanged sha is checked per instance and re-delivered
 * where it failed, timed out, is new, or drifted.
 *
 * A bundle that differs from the desired one only in clusters' `stale` flags is not
 * published (staleness-only.ts): an RDS fault, or its end, never costs a fleet delivery.
 *
 * Coalesced: an RDS event that happened at least EVENT_COVER_MARGIN_MS before the latest
 * complete look at RDS (every cluster answered fresh, result published) is already covered
 * and is skipped without an RDS call; a storm of events costs RDS calls only for its first
 * seconds.
 *
 * Serialized by the CAS (and reserved concurrency 1 on the Lambda): of concurrent runs
 * that computed a new bundle only one moves the pointer and delivers. A run that loses the
 * CAS re-reads the pointer: if it already points at the same sha, the winner delivers and
 * this run stops; otherwise it retries once with fresh registry and pointer; losing twice
 * throws ReconcileConflictError (nothing of this run was published).
 */
export async function reconcile(deps: ReconcileDeps, trigger: Trigger): Promise<ReconcileSummary> {
  const covered = await coveredByEarlierLook(deps, trigger);
  if (covered) return ignored(deps, covered);
  // The pointer is read BEFORE the registry and RDS: the swap below is conditional on this
  // version, so a pointer published from a newer registry view or RDS look than ours
  // (a later version) makes our swap fail. That alone serializes reconciles.
  let desired = await deps.pointer.read();
  let clusters = await deps.registry.list();
  const relevance = await triggerRelevance(deps, trigger, clusters);
  if (!relevance.act) return ignored(deps, relevance.reason);

  const lookedAt = deps.now();
  let topology = await fetchTopologies(deps.topology, ids(clusters), relevance.cached);
  let rdsCalls = topology.rdsCalls;
  for (let attempt = 1; ; attempt++) {
    const previous = desired ? await previousBundle(deps, desired.sha256) : undefined;
    const now = deps.now();
    const heldBack = new Map<string, string>();
    const bundle = deps.render(
      {
        clusters,
        topologies: topology.topologies,
        ...(previous ? { previous } : {}),
        onHeldBack: (clusterId, problem) => heldBack.set(clusterId, problem),
      },
      now,
    );
    await recordHeldBack(deps, heldBack, now);
    const stale = [...new Set([...topology.stale, ...heldBack.keys()])].sort();
    const base = {
      sha256: bundle.sha256,
      staleClusters: stale,
      notFoundClusters: topology.notFound,
      heldBackClusters: [...heldBack.keys()].sort(),
      reason: relevance.reason,
      acted: true,
      rdsCalls,
    };
    const look = { stale, lookedAt };

    const stalenessOnly =
      previous !== undefined &&
      desired?.sha256 !== bundle.sha256 &&
      differsOnlyInStaleness(bundle, previous);
    if (stalenessOnly) {
      deps.metrics.count(RECONCILE_METRICS.stalenessOnly);
      deps.log.info('only staleness changed: the desired bundle stays', {
        desired: previous.sha256,
        stale,
      });
    }
    if (desired && (desired.sha256 === bundle.sha256 || stalenessOnly)) {
      deps.metrics.count(RECONCILE_METRICS.unchanged);
      // The pointer was read before the registry and RDS: if another run moved it since,
      // it published a newer view and delivers it; re-sending ours would send an old sha.
      const latest = await deps.pointer.read();
      if (latest?.version !== desired.version) {
        deps.metrics.count(RECONCILE_METRICS.lostRace);
        deps.log.info('the desired pointer moved during this run; the newer run delivers', {
          ours: bundle.sha256,
          theirs: latest?.sha256,
        });
        return {
          ...base,
          ...(latest ? { sha256: latest.sha256 } : {}),
          changed: false,
          delivered: 0,
        };
      }
      const desiredSha = desired.sha256;
      const repaired = desiredSha === bundle.sha256 && !previous;
      if (repaired) await repairDesired(deps, bundle);
      const delivery =
        trigger.kind === 'schedule' || trigger.kind === 'admin'
          ? await safely(deps, () => redeliverWhereNeeded(deps.delivery, desiredSha))
          : undefined;
      await markLook(deps, look);
      return {
        ...base,
        sha256: desiredSha,
        changed: false,
        ...(repaired ? { repairedDesired: true } : {}),
        ...deliveredOf(delivery),
      };
    }
    if (desired && !previous && stale.length > 0) {
      // The servers being served are unknown (the desired bundle is unreadable) and some
      // cluster is known only from the cache: publishing could remove servers by a fault.
      deps.metrics.count(RECONCILE_METRICS.unsafe);
      deps.log.error('desired bundle unreadable while RDS answers are stale: not publishing', {
        desired: desired.sha256,
        stale,
      });
      return { ...base, sha256: desired.sha256, changed: false, delivered: 0 };
    }

    await deps.bundles.put(bundle);
    try {
      await deps.pointer.swap(desired?.version, bundle.sha256, now);
    } catch (error) {
      if (!(error instanceof DesiredPointerConflictError)) throw error;
      deps.metrics.count(RECONCILE_METRICS.lostRace);
      const current = await deps.pointer.read();
      if (current?.sha256 === bundle.sha256) {
        deps.log.info('another reconcile published the same bundle; it delivers', {
          sha256: bundle.sha256,
        });
        await markLook(deps, look);
        return { ...base, changed: false, delivered: 0 };
      }
      if (attempt >= 2) {
        throw new ReconcileConflictError(
          `the desired pointer moved twice during this reconcile (now ${current?.sha256}); not publishing ${bundle.sha256}`,
        );
      }
      deps.log.info('lost the desired-pointer race to another bundle; looking again', {
        ours: bundle.sha256,
        theirs: current?.sha256,
      });
      // Same order as above: the pointer (just read) before the registry and RDS.
      desired = current;
      const fresh = await deps.registry.list();
      topology = await fetchTopologies(deps.topology, ids(fresh));
      rdsCalls += topology.rdsCalls;
      clusters = fresh;
      continue;
    }

    deps.metrics.count(RECONCILE_METRICS.changed);
    deps.log.info('desired state changed', {
      from: desired?.sha256,
      to: bundle.sha256,
      reason: relevance.reason,
      stale,
      notFound: topology.notFound,
      heldBack: Object.fromEntries(heldBack),
    });
    await markLook(deps, look);
    const delivery = await safely(deps, () => deliverDesired(deps.delivery, bundle.sha256));
    return { ...base, changed: true, ...deliveredOf(delivery) };
  }
}

function ignored(deps: ReconcileDeps, reason: string): ReconcileSummary {
  deps.metrics.count(RECONCILE_METRICS.ignored);
  deps.log.debug('trigger ignored', { reason });
  return {
    changed: false,
    delivered: 0,
    staleClusters: [],
    notFoundClusters: [],
    heldBackClusters: [],
    reason,
    acted: false,
    rdsCalls: 0,
  };
}

/**
 * A cluster whose RDS answer could not be rendered is flagged where `status` looks (its
 * topology-cache observation), so it does not show as ok. Best effort, like any problem record.
 */
async function recordHeldBack(deps: ReconcileDeps, heldBack: Map<string, string>, now: Date) {
  for (const [clusterId, problem] of heldBack) {
    deps.metrics.count(RECONCILE_METRICS.heldBack);
    deps.log.error('RDS answer for this cluster cannot be served: it keeps its servers', {
      clusterId,
      problem,
    });
    try {
      await deps.topology.cache.recordProblem(clusterId, {
        ok: false,
        problem: `held back on its last servers: ${problem}`.slice(0, 500),
        at: now.toISOString(),
      });
    } catch (error) {
      deps.log.warn('could not record the held-back cluster', {
        clusterId,
        error: errorMessage(error),
      });
    }
  }
}

/**
 * The desired pointer names this sha but its item is unreadable (corrupted) or missing, so
 * every re-delivery and boot sync fails. This run rendered the same sha (verified content),
 * so it stores it again over the bad item.
 */
async function repairDesired(deps: ReconcileDeps, bundle: Bundle) {
  await deps.bundles.replace(bundle);
  deps.metrics.count(RECONCILE_METRICS.repaired);
  deps.log.error('the desired bundle was unreadable or missing: stored it again', {
    sha256: bundle.sha256,
  });
}

async function triggerRelevance(
  deps: ReconcileDeps,
  trigger: Trigger,
  clusters: readonly RegistryCluster[],
) {
  const registered = new Set(ids(clusters));
  const clusterOfInstance = new Map<string, string>();
  let cached: Map<string, CachedTopology> | undefined;
  if (trigger.kind === 'rds' && trigger.source === 'instance' && registered.size > 0) {
    cached = await deps.topology.cache.getMany([...registered]);
    for (const [clusterId, entry] of cached) {
      for (const member of entry.topology?.members ?? []) {
        clusterOfInstance.set(member.instanceId, clusterId);
      }
    }
  }
  return { ...decideRelevance(trigger, registered, clusterOfInstance), cached };
}

/**
 * The reason an RDS event is already covered by the latest complete look at RDS, or
 * undefined. Checked first: a covered event costs one read, whatever it is about.
 */
async function coveredByEarlierLook(
  deps: ReconcileDeps,
  trigger: Trigger,
): Promise<string | undefined> {
  if (trigger.kind !== 'rds' || !trigger.at) return undefined;
  const lookedAt = await deps.mark.read();
  if (!eventCovered(trigger.at, lookedAt)) return undefined;
  return `${trigger.eventId} at ${trigger.at} is covered by the reconcile that looked at RDS at ${lookedAt}`;
}

/**
 * This run's look at RDS is published: events older than it (by a margin) are covered.
 * Not when a cluster was served stale: that cluster was not seen, so its events still count.
 */
async function markLook(deps: ReconcileDeps, look: { stale: string[]; lookedAt: Date }) {
  const { lookedAt } = look;
  if (look.stale.length > 0) return;
  try {
    await deps.mark.advance(lookedAt);
  } catch (error) {
    deps.log.warn('could not advance the reconcile mark', { error: errorMessage(error) });
  }
}

/**
 * The current desired bundle, or undefined when it is unreadable or missing (then reconcile
 * stores it again once it renders the same sha, and publishes nothing while RDS is stale).
 */
async function previousBundle(deps: ReconcileDeps, sha256: string) {
  try {
    const bundle = await deps.bundles.get(sha256, { fresh: true });
    if (!bundle) deps.log.error('the desired bundle is missing from the table', { sha256 });
    return bundle;
  } catch (error) {
    if (!(error instanceof StoredItemInvalidError)) throw error;
    deps.log.error('the desired bundle is unreadable; rendering without previous slots', {
      sha256,
      error: error.message,
    });
    return undefined;
  }
}

/**
 * Delivery problems do not fail the reconcile: the desired pointer is already the truth and
 * the scheduled check sends it to every instance that did not get it.
 */
async function safely(
  deps: ReconcileDeps,
  deliver: () => Promise<DeliveryReport>,
): Promise<DeliveryReport | { error: string }> {
  try {
    return await deliver();
  } catch (error) {
    deps.metrics.count(RECONCILE_METRICS.deliveryErrors);
    deps.log.error('delivery failed; the scheduled check retries', {
      error: errorMessage(error),
    });
    return { error: errorMessage(error) };
  }
}

function deliveredOf(delivery: DeliveryReport | { error: string } | undefined) {
  if (!delivery) return { delivered: 0 };
  if ('error' in delivery) return { delivered: 0, deliveryError: delivery.error };
  return { delivered: delivery.sentTo };
}

function ids(clusters: readonly RegistryCluster[]): string[] {
  return clusters.map((c) => c.clusterId).sort();
}
