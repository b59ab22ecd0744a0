import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { atomicWriteFile, safeUnlink } from '../state/atomic-write';
import type { ApplyDeps, ChangeInput, Outcome } from './apply-types';
import { resolveBundleNames, systemResolver } from './resolve';
import { undoRuntimeChanges } from './undo-runtime';

/**
 * A failed apply whose runtime commands or file swap must not stay: restore the previous
 * file (if swapped), undo the runtime commands (undo-runtime.ts), drop the staged file. The
 * result says exactly what ran. No reload is tried here: the running worker is the one on the
 * previous file, and a reload without a fitting server-state file would itself send reads to
 * servers nobody checked.
 */
export async function undoApply(
  deps: ApplyDeps,
  input: ChangeInput & { haproxyCommitted: boolean; runtimeTouched: boolean; why: string },
): Promise<Outcome> {
  const { applied, next, live, stagedHaproxy, why } = input;
  const cfgPath = deps.config.haproxy.configPath;
  const done: string[] = [];
  const failed: string[] = [];
  if (input.haproxyCommitted) {
    if (live.haproxy === undefined) failed.push(`no previous ${cfgPath} to restore`);
    else {
      try {
        atomicWriteFile(cfgPath, live.haproxy);
        done.push(`restored the previous ${cfgPath}`);
      } catch (error) {
        failed.push(`could not restore the previous ${cfgPath}: ${errorMessage(error)}`);
      }
    }
  } else {
    safeUnlink(stagedHaproxy);
  }
  if (input.runtimeTouched) {
    try {
      if (!applied) throw new Error('no applied bundle to return to');
      const resolved = await resolveBundleNames(applied, deps.resolveHost ?? systemResolver);
      const count = await undoRuntimeChanges(
        deps.runtime,
        applied,
        next,
        resolved,
        deps.config.haproxy.host.availabilityZone,
      );
      done.push(`undid the runtime changes (${count} command(s))`);
    } catch (error) {
      failed.push(`could not undo the runtime changes: ${errorMessage(error)}`);
    }
  }
  const was = applied ? applied.sha256 : 'the previous config';
  if (failed.length === 0) {
    const changed = input.haproxyCommitted || input.runtimeTouched;
    return {
      ok: false,
      action: changed ? 'rollback' : 'unchanged',
      error: `${why}; ${changed ? `${done.join(', ')}: ` : ''}HAProxy stays on ${was}; no reload was tried`,
      // Back on the applied bundle for sure only when this apply started from it.
      pending: input.state.inProgress === undefined ? 'remove' : 'restore',
      keepInProgress: input.state.inProgress !== undefined,
    };
  }
  return {
    ok: false,
    action: 'rollback',
    error: `${why}; ${[...done, ...failed].join(', ')}; HAProxy may run part of ${next.sha256}; no reload was tried, the next apply reloads`,
    keepInProgress: true,
    pending: 'keep',
  };
}
