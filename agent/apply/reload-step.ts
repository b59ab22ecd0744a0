import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { HaproxyReloadError } from '../haproxy/errors';
import { atomicWriteFile, commitTempFile, safeUnlink } from '../state/atomic-write';
import {
  type ApplyDeps,
  type ChangeInput,
  type HaproxyApplied,
  NO_DRAIN,
  type Outcome,
  type Stopped,
} from './apply-types';
import { aliasesOf } from './bundle-aliases';
import { proveStarts, refusalReason } from './prove-start';
import { resolveBundleNames, systemResolver } from './resolve';
import { removeServerStateFile, writeServerStateFile } from './server-state-file';
import { rewriteServerState } from './server-state-rewrite';
import { undoApply } from './undo-apply';

/**
 * Install the staged file and reload HAProxy on it; when HAProxy is not running (boot), only
 * install it once a trial start shows it starts. Nothing is committed when this step begins
 * (the runtime step commits only on its way to `applied`); `runtimeTouched` says whether a
 * failed runtime step left commands to undo.
 */
export async function reloadStep(
  deps: ApplyDeps,
  input: ChangeInput,
  runtimeTouched: boolean,
): Promise<HaproxyApplied | Stopped> {
  const { config } = deps;
  const { next, applied, live, stagedHaproxy, resolved, running, log } = input;
  const cfgPath = config.haproxy.configPath;
  const stopped = (outcome: Outcome): Stopped => ({ kind: 'stopped', outcome });
  const undo = async (why: string) =>
    stopped(await undoApply(deps, { ...input, haproxyCommitted: false, runtimeTouched, why }));

  if (!running) {
    // Nothing can show a config starts but starting it (haproxy -c binds nothing).
    try {
      await proveStarts(deps, stagedHaproxy);
    } catch (error) {
      safeUnlink(stagedHaproxy);
      deps.store.writeState(input.state); // nothing changed: back to exactly what was there
      return stopped({
        ok: false,
        action: 'unchanged',
        error: `${errorMessage(error)}; the last good config stays installed`,
        keepInProgress: true,
        pending: 'restore',
      });
    }
    try {
      removeServerStateFile(config);
      commitTempFile(stagedHaproxy, cfgPath);
    } catch (error) {
      safeUnlink(stagedHaproxy);
      return stopped({
        ok: false,
        action: 'unchanged',
        error: `HAProxy is not running and the new config was not installed: ${errorMessage(error)}`,
        keepInProgress: true,
        pending: 'keep',
      });
    }
    log('HAProxy is not running: config installed, HAProxy loads it when it starts');
    return { kind: 'applied', path: 'reload', reconnect: [], afterDrain: NO_DRAIN };
  }

  // No reload without a server-state file that fits the new config: the new worker would
  // treat every server as UP until its first check (reads on the writer).
  try {
    await writeServerStateFile(deps, (dump) =>
      rewriteServerState({ dump, previous: applied, next, resolved }),
    );
  } catch (error) {
    return undo(`the server-state file could not be written (${errorMessage(error)})`);
  }
  try {
    commitTempFile(stagedHaproxy, cfgPath);
  } catch (error) {
    return undo(`${cfgPath} could not be replaced (${errorMessage(error)})`);
  }
  try {
    const reloaded = await deps.master.reload();
    log(`reloaded: new worker ${reloaded.newWorkerPid}`);
  } catch (error) {
    const reason = await refusalReason(deps, error);
    const outcome = await rollback(deps, live.haproxy, applied, next, reason);
    return stopped(
      error instanceof HaproxyReloadError && error.refused
        ? { ...outcome, refusedReason: reason, refusedAfterTrial: input.trialBeforeReload }
        : outcome,
    );
  }
  // Every pooled connection is on the old worker now; aliases new in this bundle have none.
  const known = new Set(applied ? aliasesOf(applied) : []);
  return {
    kind: 'applied',
    path: 'reload',
    reconnect: aliasesOf(next).filter((alias) => known.has(alias)),
    afterDrain: NO_DRAIN,
  };
}

/**
 * The reload of the new config failed: put the previous file back and reload it, so the
 * worker runs what the file says. Every message names what actually ran.
 */
async function rollback(
  deps: ApplyDeps,
  lastGood: string | undefined,
  applied: Bundle | undefined,
  next: Bundle,
  reloadError: string,
): Promise<Outcome> {
  const cfgPath = deps.config.haproxy.configPath;
  const log = deps.log ?? (() => {});
  const keep = { keepInProgress: true, pending: 'keep' as const };
  if (lastGood === undefined) {
    return {
      ok: false,
      action: 'rollback',
      error: `reload failed: ${reloadError}; there is no previous config to restore`,
      ...keep,
    };
  }
  try {
    atomicWriteFile(cfgPath, lastGood);
  } catch (error) {
    return {
      ok: false,
      action: 'rollback',
      error: `reload failed: ${reloadError}; could not restore the previous ${cfgPath} (${errorMessage(error)}), not reloaded`,
      ...keep,
    };
  }
  // Back on the applied bundle only when the file restored is the applied bundle's.
  const backOnApplied = applied !== undefined && lastGood === applied.files.haproxy;
  const what = backOnApplied
    ? `the last-known-good config (${applied.sha256})`
    : 'the previous config';
  try {
    // Fit the dump to the restored config: slots not at its servers start DOWN.
    const resolved = backOnApplied
      ? await resolveBundleNames(applied, deps.resolveHost ?? systemResolver)
      : new Map<string, string>();
    await writeServerStateFile(deps, (dump) =>
      backOnApplied
        ? rewriteServerState({ dump, previous: applied, next: applied, resolved })
        : dump,
    );
  } catch (error) {
    return {
      ok: false,
      action: 'rollback',
      error: `reload failed: ${reloadError}; restored ${what} in ${cfgPath} but did not reload it (server-state file: ${errorMessage(error)}); the worker that did not reload still runs`,
      ...keep,
    };
  }
  try {
    await deps.master.reload();
  } catch (error) {
    return {
      ok: false,
      action: 'rollback',
      error: `reload failed: ${reloadError}; restored ${what} but its reload failed too: ${errorMessage(error)}`,
      ...keep,
    };
  }
  log(`reload failed; restored ${what} and reloaded it`);
  let moved = '';
  try {
    if (applied) await deps.pgbouncer.reconnect(aliasesOf(applied));
  } catch (error) {
    moved = `; PgBouncer RECONNECT failed: ${errorMessage(error)}`;
  }
  void next;
  return {
    ok: false,
    action: 'rollback',
    error: `reload failed: ${reloadError}; restored ${what} and reloaded it${moved}`,
    ...(backOnApplied ? { pending: 'remove' as const } : keep),
  };
}
