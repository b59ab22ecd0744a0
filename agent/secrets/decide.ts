/**
 * What to do with the version a poll of a secret saw. Pass conditions:
 * - `unchanged`: it is the version in use (nothing to do, no log).
 * - `refused`: it is the version already refused for its format (the same bytes fail the same
 *   way: keep the last good one and say nothing new).
 * - `apply`: anything else: a new version, or one whose apply failed before for a reason
 *   that may pass (PgBouncer unreachable, a server that did not accept the new password yet),
 *   retried at every poll.
 */
export type VersionAction = 'unchanged' | 'refused' | 'apply';

export interface VersionState {
  /** The version in use (null: none yet). */
  appliedVersionId: string | null;
  /** The last version refused because it does not parse. */
  refusedVersionId?: string;
}

export function versionAction(state: VersionState, observedVersionId: string): VersionAction {
  if (observedVersionId === state.appliedVersionId) return 'unchanged';
  if (observedVersionId === state.refusedVersionId) return 'refused';
  return 'apply';
}

/**
 * The delay before the next poll: `intervalMs` +-`jitter` (a fraction), so a fleet started
 * together does not poll in lockstep. `random` is in [0, 1).
 */
export function nextPollDelay(intervalMs: number, jitter: number, random: number): number {
  return Math.round(intervalMs * (1 - jitter + 2 * jitter * random));
}
