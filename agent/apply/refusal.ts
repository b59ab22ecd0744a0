import type { AgentState } from '../state/state-store';

/**
 * A bundle HAProxy refused at reload (a port held by another process, a limit) is refused
 * again until the cause goes away, and every attempt costs two reloads (the refused one and
 * the rollback's). The orchestrator resends the desired bundle every tick, so the agent
 * remembers the refusal (state.json `refused`) and, for the same sha, first asks a trial start
 * of the staged file (prove-start.ts), which reloads nothing: still refused -> no reload;
 * passes -> the cause is gone, reload. Should a reload be refused although its trial passed
 * (a cause the trial cannot see), the sha is held back without trials for a backoff that
 * doubles per refusal: 1, 2, 4 ... minutes, at most 30 (issue 16). Another sha, or
 * `apply --force`, goes ahead at once.
 */
export type Refusal = NonNullable<AgentState['refused']>;

export const REFUSAL_BACKOFF_MS = { first: 60_000, max: 30 * 60_000 } as const;

export function refusalBackoffMs(count: number): number {
  return Math.min(REFUSAL_BACKOFF_MS.max, REFUSAL_BACKOFF_MS.first * 2 ** Math.max(0, count - 1));
}

export type RefusalDecision =
  | { kind: 'go' }
  | { kind: 'trial'; refused: Refusal }
  | { kind: 'hold'; error: string };

/**
 * Pass conditions, in order:
 * 1. no refusal recorded, or it is for another sha, or `force`      -> go
 * 2. the refusal did not follow a passing trial                     -> trial first (go if it
 *                                                                      passes, else no reload)
 * 3. it did (`trialPassed`: trials cannot see this cause), and its
 *    backoff has not run out                                        -> hold
 * 4. otherwise                                                      -> go
 */
export function refusalDecision(
  refused: Refusal | undefined,
  sha256: string,
  now: Date,
  force = false,
): RefusalDecision {
  if (!refused || refused.sha256 !== sha256 || force) return { kind: 'go' };
  if (!refused.trialPassed) return { kind: 'trial', refused };
  const retryAt = Date.parse(refused.at) + refusalBackoffMs(refused.count);
  if (now.getTime() >= retryAt) return { kind: 'go' };
  return {
    kind: 'hold',
    error: `${describeRefusal(refused)}; its trial start passed but the reload was refused, so it is not reloaded again before ${new Date(retryAt).toISOString()} (apply --force retries now); nothing changed`,
  };
}

export function describeRefusal(refused: Refusal): string {
  return `HAProxy refused this bundle at reload ${refused.count} time(s), last at ${refused.at}: ${refused.reason}`;
}

/** The refusal to record after an apply of `sha256` whose reload HAProxy refused. */
export function recordRefusal(
  previous: Refusal | undefined,
  sha256: string,
  reason: string,
  now: Date,
  trialPassed = false,
): Refusal {
  const count = previous?.sha256 === sha256 ? previous.count + 1 : 1;
  return {
    sha256,
    reason: reason.slice(0, 1500),
    count,
    at: now.toISOString(),
    ...(trialPassed ? { trialPassed } : {}),
  };
}
