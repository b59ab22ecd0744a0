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

/**
 * Whether PgBouncer must RELOAD the [databases] include in this apply. What PgBouncer serves
 * is known only from the last apply that finished: an apply killed between writing the
 * include and PgBouncer's RELOAD leaves a file PgBouncer never loaded, and comparing the next
 * bundle with that file would skip the RELOAD forever (issue 10: reads through PgBouncer hung
 * on a port HAProxy no longer listened on, every slot UP). Pass conditions, in order:
 * 1. the include on disk differs from next's     -> reload (the include changes)
 * 2. no applied bundle                           -> reload (what PgBouncer loaded is unknown)
 * 3. the last apply was interrupted              -> reload (the file may not be what it loaded)
 * 4. the live files differ from the applied      -> reload (changed behind the agent)
 * 5. otherwise                                   -> keep   (loaded and checked when applied)
 * A RELOAD of an include PgBouncer already serves changes nothing and keeps every connection.
 */
export interface PgbouncerIncludeInput {
  includeOnDiskIsNext: boolean;
  applied: boolean;
  interrupted: boolean;
  liveFilesMatchApplied: boolean;
}

export function decidePgbouncerReload(input: PgbouncerIncludeInput): {
  reload: boolean;
  reason: string;
} {
  if (!input.includeOnDiskIsNext) return { reload: true, reason: 'the include changes' };
  if (!input.applied) return { reload: true, reason: 'no bundle applied yet' };
  if (input.interrupted) {
    return {
      reload: true,
      reason:
        'the previous apply was interrupted (PgBouncer may not have loaded the include on disk)',
    };
  }
  if (!input.liveFilesMatchApplied) {
    return { reload: true, reason: 'the live files differ from the applied bundle' };
  }
  return { reload: false, reason: 'PgBouncer loaded this include when it was applied' };
}
