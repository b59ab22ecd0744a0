import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { SHA256_HEX } from '@aurora-haproxy/contract/patterns';

import { haproxyRunFiles, hostEnvironment } from '../config';
import { HaproxySocketError } from '../haproxy/errors';
import type { HaproxyMasterCli } from '../haproxy/master-cli';
import { validateConfig } from '../haproxy/validate';
import { safeUnlink, writeTempFile } from '../state/atomic-write';
import { acquireLock } from '../state/lock';
import { pendingSlotsPath } from '../state/pending-slots';
import { pidExists } from '../state/process-identity';
import { type AgentState, readOptional, type StateStore } from '../state/state-store';
import type { ApplyDeps, ApplyRequest, ChangeInput, Outcome } from './apply-types';
import { finishSteps } from './finish-steps';
import { beginTransition, type Transition } from './pending';
import { planApply } from './plan';
import { confirmUnchanged, proveStarts } from './prove-start';
import { describeRefusal, recordRefusal } from './refusal';
import { reloadStep } from './reload-step';
import { resolveBundleNames, systemResolver } from './resolve';
import { limitError } from './result';
import { runtimeStep } from './runtime-step';
import { undoApply } from './undo-apply';
import {
  type HostVersions,
  hostVersions,
  unmetPreparedStatements,
  unmetRequirements,
} from './versions';

// The types callers name; the steps share them through apply-types.ts.
export type { ApplyDeps, ApplyRequest } from './apply-types';

/**
 * apply: read the bundle and verify its sha (before anything else), then under the apply lock
 * stage -> validate (`haproxy -c` on the staged bytes) -> runtime API or swap + reload ->
 * rollback on a failed reload -> PgBouncer RELOAD/RECONNECT -> record the applied bundle.
 *
 * Crash safety: every file is replaced atomically (old or new bytes, never half), and
 * state.json carries `inProgress` from before the first change until the end, so an apply
 * killed at any point is followed by one that reloads HAProxy from the (whole) file on disk
 * and has PgBouncer RELOAD its include (decidePgbouncerReload: the file on disk may be one
 * PgBouncer never loaded).
 */
export async function applyBundle(deps: ApplyDeps, request: ApplyRequest): Promise<AgentResult> {
  const started = performance.now();
  let versions: HostVersions = {};
  const finish = (outcome: Outcome): AgentResult => ({
    ok: outcome.ok,
    sha256: request.sha256,
    action: outcome.action,
    durationMs: Math.max(0, Math.round(performance.now() - started)),
    ...(outcome.error === undefined ? {} : { error: limitError(outcome.error) }),
    ...(Object.keys(versions).length > 0 ? { versions } : {}),
  });
  if (!SHA256_HEX.test(request.sha256)) {
    return finish({
      ok: false,
      action: 'unchanged',
      error: `--sha256 must be 64 lowercase hex characters, got ${JSON.stringify(request.sha256.slice(0, 80))}`,
    });
  }
  let next: Bundle;
  try {
    next = await deps.loadBundle(request.sha256);
  } catch (error) {
    const result = finish({
      ok: false,
      action: 'unchanged',
      error: `bundle ${request.sha256} rejected, nothing changed: ${errorMessage(error)}`,
    });
    await recordRejection(deps, result);
    return result;
  }
  versions = await hostVersions({
    master: deps.master,
    pgbouncer: deps.pgbouncer,
    haproxyBinary: deps.config.haproxy.binary,
    pgbouncerBinary: deps.config.pgbouncer.binary,
  });
  const unmet =
    unmetRequirements(next, versions) ??
    (await unmetPreparedStatements(next, versions, () =>
      deps.pgbouncer.setting('max_prepared_statements'),
    ));
  if (unmet !== undefined) {
    const result = finish({ ok: false, action: 'unchanged', error: unmet });
    await recordRejection(deps, result);
    return result;
  }

  deps.store.ensureDir();
  let lock: Awaited<ReturnType<typeof acquireLock>>;
  try {
    lock = await acquireLock(deps.store.lockPath, { timeoutMs: deps.lockTimeoutMs ?? 60_000 });
  } catch (error) {
    return finish({ ok: false, action: 'unchanged', error: errorMessage(error) });
  }
  try {
    let outcome: Outcome;
    let before: AgentState;
    try {
      before = deps.store.readState();
    } catch (error) {
      deps.log?.(
        `state file unreadable (${errorMessage(error)}); treating the last apply as interrupted`,
      );
      before = {
        appliedSha256: null,
        inProgress: { sha256: next.sha256, startedAt: new Date().toISOString(), pid: 0 },
      };
    }
    try {
      outcome = await applyLocked(deps, request, next, before);
    } catch (error) {
      // Unexpected: keep inProgress (and any pending slot map: the daemon stays strict) so
      // the next apply reloads from the file on disk. What ran is not known: say so.
      outcome = {
        ok: false,
        action: 'unchanged',
        error: `apply stopped by an unexpected error: ${errorMessage(error)}; HAProxy may be partly changed, the next apply reloads from ${deps.config.haproxy.configPath}`,
        keepInProgress: true,
      };
    }
    if (outcome.applied) {
      // HAProxy runs `next`: the applied bundle must say so before the pending map goes.
      try {
        deps.store.writeAppliedBundle(outcome.applied);
        const settleError = outcome.settlePending?.();
        if (settleError) outcome.error = joinErrors(outcome.error, settleError);
      } catch (error) {
        outcome = {
          ok: false,
          action: outcome.action,
          error: `HAProxy and ${deps.config.haproxy.configPath} are on ${outcome.applied.sha256} but the applied bundle could not be written (${errorMessage(error)}); the health daemon judges both bundles' servers until an apply finishes`,
          keepInProgress: true,
        };
      }
    }
    const result = finish(outcome);
    const latest = safeReadState(deps.store) ?? before;
    const refused =
      outcome.refusedReason !== undefined
        ? recordRefusal(
            latest.refused,
            next.sha256,
            outcome.refusedReason,
            new Date(),
            outcome.refusedAfterTrial,
          )
        : outcome.applied
          ? undefined
          : latest.refused;
    try {
      deps.store.writeState({
        appliedSha256: outcome.applied?.sha256 ?? latest.appliedSha256,
        lastResult: { ...result, finishedAt: new Date().toISOString() },
        ...(outcome.keepInProgress && latest.inProgress ? { inProgress: latest.inProgress } : {}),
        ...(refused ? { refused } : {}),
      });
    } catch (error) {
      deps.log?.(`state.json not written: ${errorMessage(error)}`);
    }
    return result;
  } finally {
    lock.release();
  }
}

/** Keep `status` honest about a rejected bundle, if the lock is free right now. */
async function recordRejection(deps: ApplyDeps, result: AgentResult): Promise<void> {
  try {
    deps.store.ensureDir();
    const lock = await acquireLock(deps.store.lockPath, { timeoutMs: 1_000 });
    try {
      const state = deps.store.readState();
      deps.store.writeState({
        ...state,
        lastResult: { ...result, finishedAt: new Date().toISOString() },
      });
    } finally {
      lock.release();
    }
  } catch {
    /* best effort: the result line is what the caller sees */
  }
}

async function applyLocked(
  deps: ApplyDeps,
  request: ApplyRequest,
  next: Bundle,
  state: AgentState,
): Promise<Outcome> {
  const { config, store } = deps;
  const log = deps.log ?? (() => {});
  const cfgPath = config.haproxy.configPath;
  const dbPath = config.pgbouncer.databasesPath;
  removeLeftoverTempFiles([
    cfgPath,
    dbPath,
    store.statePath,
    store.appliedBundlePath,
    pendingSlotsPath(store.dir),
    haproxyRunFiles(config).serverStateFile,
  ]);

  let applied: Bundle | undefined;
  try {
    applied = store.readAppliedBundle();
  } catch (error) {
    log(`applied bundle unreadable (${errorMessage(error)}); reloading from scratch`);
  }
  const live = { haproxy: readOptional(cfgPath), pgbouncer: readOptional(dbPath) };
  const plan = planApply({
    applied,
    next,
    state,
    live,
    host: config.haproxy.host,
    now: new Date(),
    force: request.force,
  });
  log(`apply ${next.sha256}: ${plan.decision.path} (${plan.decision.reason})`);
  if (plan.kind === 'unchanged') {
    // Only when HAProxy and PgBouncer really run it (or, at boot, the file starts).
    const wrong = applied && (await confirmUnchanged(deps, applied, !!request.servicesMayBeDown));
    return wrong
      ? { ok: false, action: 'unchanged', error: wrong }
      : { ok: true, action: 'unchanged' };
  }
  if (plan.kind === 'refused') return { ok: false, action: 'unchanged', error: plan.error };
  const { refusal } = plan;

  // From here on something may change: mark the apply as in progress first.
  try {
    store.writeState({
      ...state,
      inProgress: { sha256: next.sha256, startedAt: new Date().toISOString(), pid: process.pid },
    });
  } catch (error) {
    return {
      ok: false,
      action: 'unchanged',
      error: `could not mark the apply in progress in ${store.statePath}: ${errorMessage(error)}; nothing changed`,
      keepInProgress: true,
    };
  }
  const notStarted = (error: string): Outcome => {
    store.writeState(state); // nothing changed: back to exactly what was there
    return { ok: false, action: 'unchanged', error, keepInProgress: true };
  };

  // Stage next to the live file and validate the exact bytes that will be renamed into place.
  let stagedHaproxy: string;
  try {
    stagedHaproxy = writeTempFile(cfgPath, next.files.haproxy);
  } catch (error) {
    return notStarted(
      `could not stage the new config next to ${cfgPath}: ${errorMessage(error)}; nothing changed`,
    );
  }
  try {
    await validateConfig(
      config.haproxy.binary,
      stagedHaproxy,
      hostEnvironment(config.haproxy.host),
    );
  } catch (error) {
    safeUnlink(stagedHaproxy);
    return notStarted(`${errorMessage(error)}; nothing changed`);
  }
  if (refusal.kind === 'trial') {
    // Refused before: reload only once a trial start shows the cause is gone.
    try {
      await proveStarts(deps, stagedHaproxy);
      log('refused before, but its trial start passes now: reloading');
    } catch (error) {
      safeUnlink(stagedHaproxy);
      return notStarted(
        `${describeRefusal(refusal.refused)}; still: ${errorMessage(error)}; not reloaded; nothing changed`,
      );
    }
  }

  const resolved = await resolveBundleNames(next, deps.resolveHost ?? systemResolver);
  const running = request.servicesMayBeDown ? await haproxyAnswers(deps.master) : true;

  // Before HAProxy changes at all: the health daemon judges every server a changed slot may
  // be at (pending.ts). Refused: nothing changed.
  let transition: Transition;
  try {
    transition = await beginTransition(
      {
        stateDir: store.dir,
        daemon: { address: config.health.checkAddress, port: config.health.checkPort },
        log,
        ...(deps.transitionWaitMs === undefined ? {} : { waitMs: deps.transitionWaitMs }),
      },
      next,
    );
  } catch (error) {
    safeUnlink(stagedHaproxy);
    return notStarted(errorMessage(error));
  }
  const outcome = await changeHaproxy(deps, request, {
    next,
    applied,
    live,
    state,
    decision: plan.decision.path,
    pgbouncerReload: plan.pgbouncerReload,
    stagedHaproxy,
    resolved,
    running,
    trialBeforeReload: refusal.kind === 'trial',
    log,
  });
  // The pending map goes once the applied bundle is written (applyBundle) or, here, when
  // HAProxy is known to run exactly what the applied bundle says again.
  if (outcome.pending === 'remove-after-applied') {
    outcome.settlePending = () => transition.settle('remove');
  } else {
    const settleError = transition.settle(outcome.pending ?? 'keep');
    if (settleError) outcome.error = joinErrors(outcome.error, settleError);
  }
  return outcome;
}

/**
 * The change, as steps with typed results: runtime (when decided) → reload (when decided, or
 * when the runtime step could not finish) → PgBouncer → finish draining. Every way out says
 * what HAProxy runs now (issue 16 #5): `pending` is `remove-after-applied` only when it runs
 * `next`, `remove` when it was put back to the applied bundle for sure, `restore` when nothing
 * changed, and `keep` (with keepInProgress: the next apply reloads) when that is not known.
 */
async function changeHaproxy(
  deps: ApplyDeps,
  request: ApplyRequest,
  input: ChangeInput,
): Promise<Outcome> {
  const runtime = input.decision === 'runtime' ? await runtimeStep(deps, input) : undefined;
  if (runtime?.kind === 'undo') return undoApply(deps, { ...input, ...runtime });
  const haproxy =
    runtime?.kind === 'applied'
      ? runtime
      : await reloadStep(deps, input, runtime?.runtimeTouched ?? false);
  if (haproxy.kind === 'stopped') return haproxy.outcome;
  return finishSteps(deps, request, input, haproxy);
}

async function haproxyAnswers(master: HaproxyMasterCli): Promise<boolean> {
  try {
    await master.showProcOnce();
    return true;
  } catch (error) {
    if (error instanceof HaproxySocketError) return false;
    throw error;
  }
}

/** Temp files of applies that were killed before their rename (see atomic-write.ts). */
function removeLeftoverTempFiles(targets: readonly string[]): void {
  for (const target of targets) {
    const prefix = `.${basename(target)}.tmp-`;
    let entries: string[];
    try {
      entries = readdirSync(dirname(target));
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.startsWith(prefix)) continue;
      const pid = Number(entry.slice(prefix.length).split('-')[0]);
      if (Number.isInteger(pid) && pid !== process.pid && !pidExists(pid)) {
        safeUnlink(join(dirname(target), entry));
      }
    }
  }
}

function safeReadState(store: StateStore): AgentState | undefined {
  try {
    return store.readState();
  } catch {
    return undefined;
  }
}

function joinErrors(first: string | undefined, second: string): string {
  return first ? `${first}; ${second}` : second;
}
