import type { DeliveryState } from '../state/delivery-records';
import type { RedeliveryReason } from './redelivery';

/**
 * An instance that fails every apply (or that SendCommand refuses) is re-sent with
 * exponential backoff, not on every scheduled tick forever: each attempt costs an SSM
 * command, its output and a log line, and a broken host should be visible, not noisy.
 */
export const REDELIVERY_BACKOFF = { baseMs: 60_000, maxMs: 60 * 60_000 } as const;

/** Reasons that mean "the last attempt on this instance did not work". */
const FAILURE_REASONS: ReadonlySet<RedeliveryReason> = new Set([
  'failed',
  'timed-out',
  'cancelled',
  'unreadable-result',
  'drift',
  'no-invocation',
  'refused',
]);

export type FailingEntry = NonNullable<DeliveryState['failing']>[string];

export function isFailureReason(reason: RedeliveryReason): boolean {
  return FAILURE_REASONS.has(reason);
}

/** Delay before attempt n+1 after n failed attempts: base·2^(n-1), at most maxMs. Pure. */
export function retryDelayMs(failures: number, backoff = REDELIVERY_BACKOFF): number {
  if (failures < 1) return 0;
  return Math.min(backoff.baseMs * 2 ** Math.min(failures - 1, 30), backoff.maxMs);
}

/** When this failing instance may be sent the bundle again. Pure. */
export function nextAttemptAt(entry: FailingEntry, backoff = REDELIVERY_BACKOFF): Date {
  return new Date(Date.parse(entry.lastAt) + retryDelayMs(entry.count, backoff));
}

/**
 * Split the instances to re-deliver into those due now and those still backing off. Pure.
 *
 * Pass conditions: an instance is held back only when its reason is a failure (not a new
 * instance or a never-delivered sha), it has a failing entry for this sha, and `now` is
 * before lastAt + retryDelayMs(count). The first failure is re-sent at once (count 0 → 1).
 */
export function splitByBackoff<T extends { instanceId: string; reason: RedeliveryReason }>(
  redeliver: readonly T[],
  failing: Readonly<Record<string, FailingEntry>>,
  now: Date,
  backoff = REDELIVERY_BACKOFF,
): { due: T[]; held: T[] } {
  const due: T[] = [];
  const held: T[] = [];
  for (const r of redeliver) {
    const entry = failing[r.instanceId];
    const waiting =
      isFailureReason(r.reason) && entry && now.getTime() < nextAttemptAt(entry, backoff).getTime();
    (waiting ? held : due).push(r);
  }
  return { due, held };
}
