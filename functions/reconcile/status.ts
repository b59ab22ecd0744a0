import type { DesiredStateItem } from '@aurora-haproxy/contract/bundle-item';
import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { isFailureReason, nextAttemptAt } from '../delivery/backoff';
import { collectInvocations } from '../delivery/deliver';
import { listFleetInstances } from '../delivery/fleet';
import { decideRedelivery, type RedeliveryReason } from '../delivery/redelivery';
import type { Log } from '../shared/observability';
import type { DeliveryState } from '../state/delivery-records';
import type { CachedTopology } from '../state/topology-cache';

export interface StatusDeps {
  registry: { list(): Promise<RegistryCluster[]> };
  pointer: { read(): Promise<DesiredStateItem | undefined> };
  topologyCache: { getMany(ids: readonly string[]): Promise<Map<string, CachedTopology>> };
  records: { readState(): Promise<DeliveryState | undefined> };
  ssm: SSMClient;
  /** With both, instances of the fleet that never got the desired sha are listed too. */
  autoScaling?: AutoScalingClient;
  fleetGroupName?: string;
  log: Log;
  now?: () => Date;
}

export interface InstanceStatus {
  instanceId: string;
  /** in-sync: reported the desired sha; pending: its command still runs; else why not. */
  state: 'in-sync' | 'pending' | RedeliveryReason;
  /** true when the instance is not known to run the desired sha (and is not still applying). */
  drift: boolean;
  appliedSha256?: string;
  action?: string;
  commandId?: string;
  invocationStatus?: string;
  error?: string;
  /** Consecutive failed deliveries of the desired sha to this instance (refusals included). */
  failedAttempts?: number;
  /** When the scheduled check sends it again (exponential backoff). */
  nextAttemptAt?: string;
  /** true while that time is in the future: the instance is flagged, not re-sent every tick. */
  backingOff?: boolean;
}

export interface ClusterStatus {
  clusterId: string;
  /** ok: last observation fresh; stale: RDS fault, last known served; notFound; unknown: never observed. */
  topology: 'ok' | 'stale' | 'notFound' | 'unknown';
  problem?: string;
  observedAt?: string;
  members?: number;
}

export interface Status {
  desired: DesiredStateItem | null;
  delivery: { sha256: string; updatedAt: string } | null;
  instances: InstanceStatus[];
  clusters: ClusterStatus[];
  staleClusters: string[];
  notFoundClusters: string[];
}

/**
 * What the system believes and what the fleet did: the desired sha, per instance the sha
 * its latest apply reported (and whether that is drift), and per registered cluster whether
 * its topology is fresh, stale (last known, RDS fault) or not found. Read-only.
 */
export async function readStatus(deps: StatusDeps): Promise<Status> {
  const [desired, state, clusters] = await Promise.all([
    deps.pointer.read(),
    deps.records.readState(),
    deps.registry.list(),
  ]);
  const cached = await deps.topologyCache.getMany(clusters.map((c) => c.clusterId));
  const fleet =
    deps.autoScaling && deps.fleetGroupName
      ? await listFleetInstances(deps.autoScaling, deps.fleetGroupName)
      : Object.keys({ ...state?.instances, ...state?.failing }).sort();
  const invocations = state ? await collectInvocations(deps, state, fleet) : new Map();
  const instances: InstanceStatus[] = [];
  if (desired) {
    const decision = decideRedelivery(desired.sha256, fleet, state, invocations);
    const byId = new Map<string, InstanceStatus['state']>([
      ...decision.applied.map((id) => [id, 'in-sync'] as const),
      ...decision.waiting.map((id) => [id, 'pending'] as const),
      ...decision.redeliver.map((r) => [r.instanceId, r.reason] as const),
    ]);
    const now = (deps.now ?? (() => new Date()))();
    const failing = state?.sha256 === desired.sha256 ? (state.failing ?? {}) : {};
    for (const instanceId of fleet) {
      const invocation = invocations.get(instanceId);
      const s = byId.get(instanceId) ?? 'undelivered';
      const entry =
        s !== 'in-sync' && s !== 'pending' && isFailureReason(s) ? failing[instanceId] : undefined;
      const next = entry ? nextAttemptAt(entry) : undefined;
      instances.push({
        instanceId,
        state: s,
        drift: s !== 'in-sync' && s !== 'pending',
        ...(invocation?.result ? { appliedSha256: invocation.result.sha256 } : {}),
        ...(invocation?.result ? { action: invocation.result.action } : {}),
        ...(invocation ? { commandId: invocation.commandId } : {}),
        ...(invocation ? { invocationStatus: invocation.status } : {}),
        ...(invocation?.result?.error ? { error: invocation.result.error } : {}),
        ...(entry?.error && !invocation?.result?.error ? { error: entry.error } : {}),
        ...(entry && next
          ? {
              failedAttempts: entry.count,
              nextAttemptAt: next.toISOString(),
              backingOff: now.getTime() < next.getTime(),
            }
          : {}),
      });
    }
  }
  const clusterStatuses = clusters
    .map((c) => clusterStatus(c.clusterId, cached.get(c.clusterId)))
    .sort((a, b) => (a.clusterId < b.clusterId ? -1 : 1));
  return {
    desired: desired ?? null,
    delivery: state ? { sha256: state.sha256, updatedAt: state.updatedAt } : null,
    instances,
    clusters: clusterStatuses,
    staleClusters: clusterStatuses.filter((c) => c.topology === 'stale').map((c) => c.clusterId),
    notFoundClusters: clusterStatuses
      .filter((c) => c.topology === 'notFound')
      .map((c) => c.clusterId),
  };
}

function clusterStatus(clusterId: string, cached: CachedTopology | undefined): ClusterStatus {
  const observation = cached?.observation;
  const members = cached?.topology?.members.length;
  const base = {
    clusterId,
    ...(members !== undefined ? { members } : {}),
    ...(observation ? { observedAt: observation.at } : {}),
  };
  if (!observation) return { ...base, topology: 'unknown' };
  if (observation.ok) return { ...base, topology: 'ok' };
  return {
    ...base,
    topology: observation.notFound ? 'notFound' : 'stale',
    ...(observation.problem ? { problem: observation.problem } : {}),
  };
}
