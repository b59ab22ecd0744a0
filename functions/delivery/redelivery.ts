import type { DeliveryState } from '../state/delivery-records';
import type { InstanceInvocation } from './invocations';

export type RedeliveryReason =
  | 'undelivered'
  | 'new-instance'
  | 'no-invocation'
  | 'failed'
  | 'timed-out'
  | 'cancelled'
  | 'unreadable-result'
  | 'drift'
  | 'refused';

export interface RedeliveryDecision {
  redeliver: { instanceId: string; reason: RedeliveryReason }[];
  /** Still running (Pending, InProgress, Delayed, Cancelling): wait for the next look. */
  waiting: string[];
  /** Reported the desired sha. */
  applied: string[];
}

/** Invocation status used when ListCommandInvocations failed: unknown, so not re-sent yet. */
export const LOOKUP_FAILED = 'LookupFailed';

const RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling', LOOKUP_FAILED]);

/**
 * Which fleet instances need the desired bundle (again). Pure.
 *
 * Pass conditions, per InService instance of the fleet:
 * - the delivery state is for another sha (or absent): the desired sha was never (fully)
 *   sent, e.g. the run that moved the pointer died before SendCommand -> `undelivered`;
 * - no command recorded for it -> `refused` when SendCommand refused it as a target
 *   (InvalidInstanceId, recorded in `failing`), else `new-instance` (joined since);
 * - its command has no invocation for it (expired from SSM history) -> `no-invocation`;
 * - invocation Failed / TimedOut / Cancelled -> `failed` / `timed-out` / `cancelled`;
 * - Success whose output holds no agent result -> `unreadable-result`;
 * - an agent result that is not ok, or reports another sha -> `failed` / `drift`;
 * - still running, or its invocation could not be read now -> waiting;
 * - Success with the desired sha -> applied.
 * Instances that left the fleet are ignored. Applying is idempotent (`unchanged`), so
 * re-delivering to an instance that was in fact fine costs one no-op.
 */
export function decideRedelivery(
  desiredSha256: string,
  fleet: readonly string[],
  state: DeliveryState | undefined,
  invocations: ReadonlyMap<string, InstanceInvocation>,
): RedeliveryDecision {
  const decision: RedeliveryDecision = { redeliver: [], waiting: [], applied: [] };
  for (const instanceId of fleet) {
    const reason = reasonFor(instanceId);
    if (reason === 'waiting') decision.waiting.push(instanceId);
    else if (reason === 'applied') decision.applied.push(instanceId);
    else decision.redeliver.push({ instanceId, reason });
  }
  return decision;

  function reasonFor(instanceId: string): RedeliveryReason | 'waiting' | 'applied' {
    if (!state || state.sha256 !== desiredSha256) return 'undelivered';
    if (!state.instances[instanceId]) {
      return state.failing?.[instanceId]?.reason === 'refused' ? 'refused' : 'new-instance';
    }
    const invocation = invocations.get(instanceId);
    if (!invocation) return 'no-invocation';
    if (RUNNING.has(invocation.status)) return 'waiting';
    if (invocation.status === 'Failed') return 'failed';
    if (invocation.status === 'TimedOut') return 'timed-out';
    if (invocation.status !== 'Success') return 'cancelled';
    if (!invocation.result) return 'unreadable-result';
    if (!invocation.result.ok) return 'failed';
    if (invocation.result.sha256 !== desiredSha256) return 'drift';
    return 'applied';
  }
}
