import type { Bundle } from '@aurora-haproxy/contract/bundle';

/**
 * How to go from what runs to the requested bundle. Pass conditions, in order:
 * 1. no applied bundle                      -> reload    (nothing known about what runs)
 * 2. the last apply was interrupted         -> reload    (runtime state is unknown: a reload
 *                                                        re-reads the file, which is whole)
 * 3. the live files differ from the applied -> reload    (someone or something changed them)
 * 4. same sha as applied                    -> unchanged (no work)
 * 5. same structureSha256 as applied        -> runtime   (membership only: runtime API)
 * 6. otherwise                              -> reload    (structural change)
 * The runtime path can still fall back to a reload when the live HAProxy does not have the
 * slots the plan needs (see planRuntimeCommands).
 */
export type ApplyPath = 'unchanged' | 'runtime' | 'reload';

export interface DecideInput {
  applied: Bundle | undefined;
  next: Bundle;
  interrupted: boolean;
  liveFilesMatchApplied: boolean;
}

export interface Decision {
  path: ApplyPath;
  reason: string;
}

export function decideApplyPath(input: DecideInput): Decision {
  const { applied, next } = input;
  if (applied === undefined) return { path: 'reload', reason: 'no bundle applied yet' };
  if (input.interrupted) return { path: 'reload', reason: 'the previous apply was interrupted' };
  if (!input.liveFilesMatchApplied) {
    return { path: 'reload', reason: 'the live files differ from the applied bundle' };
  }
  if (applied.sha256 === next.sha256) return { path: 'unchanged', reason: 'already applied' };
  if (applied.structureSha256 === next.structureSha256) {
    return { path: 'runtime', reason: 'membership-only change' };
  }
  return { path: 'reload', reason: 'structural change' };
}
