import type { Trigger } from './parse-trigger';
import {
  CLUSTER_LOOK_AGAIN_EVENTS,
  INSTANCE_LOOK_AGAIN_EVENTS,
  LOOK_AGAIN_CATEGORIES,
  NEW_MEMBER_CATEGORIES,
  NEW_MEMBER_EVENTS,
} from './rds-event-ids';

export type Relevance = { act: true; reason: string } | { act: false; reason: string };

/**
 * Should this trigger start a reconcile? Pure; `clusterOfInstance` answers from the
 * topology cache of the registered clusters (instance events carry no cluster id).
 *
 * Pass conditions:
 * - schedule and admin triggers always act;
 * - an RDS event acts only if its ID is in the look-again lists, or one of its categories
 *   is a look-again category (failover, availability, creation, deletion, recovery), so
 *   an event ID the lists do not know yet is judged by its meaning (rds-event-ids.ts);
 * - a cluster event acts only for a registered cluster;
 * - an instance event acts when the instance is a cached member of a registered cluster;
 *   for an instance in no cached topology it acts only on the new-member events (created,
 *   topology updated) or categories (creation, failover): it may be a new reader, or the
 *   new writer, of a registered cluster. Any other event of
 *   an unknown instance cannot change what is served and is ignored; the schedule covers
 *   anything missed.
 */
export function decideRelevance(
  trigger: Trigger,
  registered: ReadonlySet<string>,
  clusterOfInstance: ReadonlyMap<string, string>,
): Relevance {
  if (trigger.kind === 'schedule') return { act: true, reason: 'schedule' };
  if (trigger.kind === 'admin') return { act: true, reason: `admin: ${trigger.reason}` };
  const { eventId, sourceId } = trigger;
  if (registered.size === 0) return { act: false, reason: 'no cluster is registered' };
  const category = trigger.categories?.find((c) => LOOK_AGAIN_CATEGORIES.has(c));
  const byCategory = category ? `${category} event` : undefined;
  if (trigger.source === 'cluster') {
    const what = CLUSTER_LOOK_AGAIN_EVENTS[eventId] ?? byCategory;
    if (!what) return { act: false, reason: `${eventId} does not change a topology` };
    if (!registered.has(sourceId)) {
      return { act: false, reason: `cluster ${sourceId} is not registered` };
    }
    return { act: true, reason: `${eventId} (${what}) on cluster ${sourceId}` };
  }
  const what = INSTANCE_LOOK_AGAIN_EVENTS[eventId] ?? byCategory;
  if (!what) return { act: false, reason: `${eventId} does not change a topology` };
  const clusterId = clusterOfInstance.get(sourceId);
  if (clusterId && registered.has(clusterId)) {
    return { act: true, reason: `${eventId} (${what}) on ${sourceId} of cluster ${clusterId}` };
  }
  const newMemberCategory =
    clusterId === undefined && trigger.categories?.some((c) => NEW_MEMBER_CATEGORIES.has(c));
  if (NEW_MEMBER_EVENTS.has(eventId) || newMemberCategory) {
    return { act: true, reason: `${eventId} (${what}) on unknown instance ${sourceId}` };
  }
  return { act: false, reason: `instance ${sourceId} is in no registered cluster` };
}
