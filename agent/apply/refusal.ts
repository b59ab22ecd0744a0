import type { AgentState } from '../state/state-store';

/**
 * A bundle HAProxy refused at reload (a port held by another process, a limit) is refused
 * again until the cause goes away, and every attempt costs two reloads (the refused one and
 * the rollback's). The orchestrator resends the desired bundle every tick, so the agent
 * remembers the refusal and retries the same sha only after a backoff that doubles per
 * refusal: 1, 2, 4 ... minutes, at most 30 (issue 16). A different sha, or `--force`, is tried
 * at once.
 */
export type Refusal = NonNullable<AgentState['refused']>;

export const REFUSAL_BACKOFF_MS = { first: 60_000, max: 30 * 60_000 } as const;

export function refusalBackoffMs(count: number): number {
  return Math.min(REFUSAL_BACKOFF_MS.max, REFUSAL_BACKOFF_MS.first * 2 ** Math.max(0, count - 1));
}

/**
 * Pass conditions (undefined: go ahead with the apply): no refusal recorded, or it is for
 * another sha, or `force`, or its backoff has run out. Otherwise the error to report.
 */
export function refusalHold(
  refused: Refusal | undefined,
  sha256: string,
  now: Date,
  force = false,
): string | undefined {
  if (!refused || refused.sha256 !== sha256 || force) return undefined;
  const retryAt = Date.parse(refused.at) + refusalBackoffMs(refused.count);
  if (now.getTime() >= retryAt) return undefined;
  return `HAProxy refused this bundle at reload ${refused.count} time(s), last at ${refused.at}: ${refused.reason}; not reloading again before ${new Date(retryAt).toISOString()} (apply --force retries now); nothing changed`;
}

/** The refusal to record after an apply of `sha256` whose reload HAProxy refused. */
export function recordRefusal(
  previous: Refusal | undefined,
  sha256: string,
  reason: string,
  now: Date,
): Refusal {
  const count = previous?.sha256 === sha256 ? previous.count + 1 : 1;
  return { sha256, reason: reason.slice(0, 1500), count, at: now.toISOString() };
}
