import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentAction, AgentResult } from '@aurora-haproxy/contract/agent-result';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { pgbouncerEntries } from '@aurora-haproxy/contract/listeners';
import { SHA256_HEX } from '@aurora-haproxy/contract/patterns';
import type { AgentConfig } from '../config';
import { haproxyRunFiles, hostEnvironment } from '../config';
import { HaproxyReloadError, HaproxySocketError } from '../haproxy/errors';
import type { HaproxyMasterCli } from '../haproxy/master-cli';
import type { HaproxyRuntimeApi, RuntimeCommand } from '../haproxy/runtime-api';
import { formatServersState, parseServersState, passedCheck } from '../haproxy/servers-state';
import { validateConfig } from '../haproxy/validate';
import type { PgbouncerAdmin } from '../pgbouncer/admin';
import { PgbouncerAdminError } from '../pgbouncer/errors';
import { installedInclude } from '../pgbouncer/host-include';
import { atomicWriteFile, commitTempFile, safeUnlink, writeTempFile } from '../state/atomic-write';
import { acquireLock } from '../state/lock';
import { pendingSlotsPath } from '../state/pending-slots';
import { pidExists } from '../state/process-identity';
import { type AgentState, readOptional, type StateStore } from '../state/state-store';
import type { decidePgbouncerReload } from './decide';
import { beginTransition, type PendingSettlement, type Transition } from './pending';
import { applyPgbouncerInclude } from './pgbouncer-step';
import { planApply } from './plan';
import { confirmUnchanged, proveStarts, refusalReason } from './prove-start';
import { describeRefusal, recordRefusal } from './refusal';
import { type HostResolver, resolveBundleNames, systemResolver } from './resolve';
import { limitError } from './result';
import { backendsLosingServers, planRuntimeCommands, type SlotRef } from './runtime-plan';
import { rewriteServerState } from './server-state-rewrite';
import { undoRuntimeChanges } from './undo-runtime';
import {
  type HostVersions,
  hostVersions,
  unmetPreparedStatements,
  unmetRequirements,
} from './versions';

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
export interface ApplyDeps {
  config: AgentConfig;
  store: StateStore;
  runtime: HaproxyRuntimeApi;
  master: HaproxyMasterCli;
  pgbouncer: PgbouncerAdmin;
  /** Reads and verifies the bundle with this sha (DynamoDB or a file). */
  loadBundle(sha256: string): Promise<Bundle>;
  resolveHost?: HostResolver;
  /** Progress lines (stderr in the CLI; stdout carries only the result line). */
  log?: (line: string) => void;
  lockTimeoutMs?: number;
  /** Bound on the wait for the health daemon to take the pending slot map (pending.ts). */
  transitionWaitMs?: number;
}

export interface ApplyRequest {
  sha256: string;
  /**
   * Boot sync runs before HAProxy and PgBouncer start: when they are not running, the files
   * are installed and they load them when they start.
   */
  servicesMayBeDown?: boolean;
  /** Reload a bundle HAProxy refused before without a trial start or backoff (refusal.ts). */
  force?: boolean;
}

interface Outcome {
  ok: boolean;
  action: AgentAction;
  error?: string;
  /** The bundle now applied (undefined: unchanged from before). */
  applied?: Bundle;
  /** Leave `inProgress` set: the next apply must reload whatever runs. */
  keepInProgress?: boolean;
  /**
   * The pending slot map (pending.ts) after this outcome; `remove-after-applied` once the
   * applied bundle is written. Unset (before the map was written): left as it is.
   */
  pending?: PendingSettlement | 'remove-after-applied';
  /** Set by applyLocked for `remove-after-applied`. */
  settlePending?: () => string | undefined;
  /** HAProxy refused this bundle at reload (recorded so it is not retried every tick). */
  refusedReason?: string;
  /** ... although a trial start of it passed just before. */
  refusedAfterTrial?: boolean;
}

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

interface ChangeInput {
  next: Bundle;
  applied: Bundle | undefined;
  live: { haproxy: string | undefined; pgbouncer: string | undefined };
  state: AgentState;
  decision: 'runtime' | 'reload';
  /** Whether PgBouncer RELOADs the include (decidePgbouncerReload). */
  pgbouncerReload: ReturnType<typeof decidePgbouncerReload>;
  stagedHaproxy: string;
  resolved: ReadonlyMap<string, string>;
  running: boolean;
  /** A trial start of this (once refused) bundle passed before this reload. */
  trialBeforeReload: boolean;
  log: (line: string) => void;
}

/** HAProxy runs `next` (runtime commands or a reload) and its file says so. */
interface HaproxyApplied {
  kind: 'applied';
  path: 'runtime' | 'reload';
  /** PgBouncer databases whose pooled server connections must move (RECONNECT). */
  reconnect: string[];
  /** Second phase of a runtime apply: after the drained slots emptied. */
  afterDrain: { drained: SlotRef[]; commands: RuntimeCommand[] };
}
/** The apply ended in HAProxy's step; the outcome says what runs now. */
interface Stopped {
  kind: 'stopped';
  outcome: Outcome;
}
/** The runtime step's ways out besides `applied`. */
type RuntimeStepResult =
  | HaproxyApplied
  | { kind: 'reload-instead'; runtimeTouched: boolean }
  | { kind: 'undo'; why: string; haproxyCommitted: boolean; runtimeTouched: boolean };

const NO_DRAIN: HaproxyApplied['afterDrain'] = { drained: [], commands: [] };

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

/**
 * Runtime API commands, then the file and the server-state file that say what now runs.
 * Falls back to a reload when no plan can be made or a command fails (the reload, or its
 * rollback, settles whatever ran); undoes everything when a file cannot be written, rather than
 * leave runtime changes live behind old files.
 */
async function runtimeStep(deps: ApplyDeps, input: ChangeInput): Promise<RuntimeStepResult> {
  const { config } = deps;
  const { next, applied, stagedHaproxy, resolved, log } = input;
  const cfgPath = config.haproxy.configPath;
  let plan: ReturnType<typeof planRuntimeCommands>;
  try {
    const liveState = await deps.runtime.showServersState();
    plan = planRuntimeCommands({
      previous: applied,
      next,
      live: liveState.rows,
      resolved,
      hostAz: config.haproxy.host.availabilityZone,
    });
  } catch (error) {
    log(`no runtime plan (${errorMessage(error)}); reloading instead, nothing changed yet`);
    return { kind: 'reload-instead', runtimeTouched: false };
  }
  let ran = 0;
  try {
    for (const command of plan.commands) {
      await deps.runtime.run(command);
      ran++;
    }
  } catch (error) {
    log(
      `runtime command ${ran + 1} of ${plan.commands.length} failed (${errorMessage(error)}); reloading from the new file`,
    );
    return { kind: 'reload-instead', runtimeTouched: true };
  }
  const runtimeTouched = plan.commands.length > 0;
  let haproxyCommitted = false;
  try {
    commitTempFile(stagedHaproxy, cfgPath);
    haproxyCommitted = true;
    await writeServerStateFile(deps, (dump) =>
      rewriteServerState({ dump, previous: next, next, resolved }),
    );
  } catch (error) {
    const why = haproxyCommitted
      ? `the server-state file could not be written (${errorMessage(error)})`
      : `${cfgPath} could not be replaced (${errorMessage(error)})`;
    return { kind: 'undo', why, haproxyCommitted, runtimeTouched };
  }
  log(`runtime API: ${plan.commands.length} command(s), no reload`);
  // Re-addressed and filled slots take connections only after a fresh check passes: give them
  // that check before PgBouncer's RECONNECT makes it open new connections, or a one-reader
  // cluster has no server then (PgBouncer: server_login_retry).
  await waitForFreshChecks(deps, plan.commands);
  const losing = backendsLosingServers(applied, next);
  return {
    kind: 'applied',
    path: 'runtime',
    reconnect: aliasesOf(next, (backend) => losing.has(backend)),
    afterDrain: { drained: plan.drained, commands: plan.afterDrain },
  };
}

/**
 * Install the staged file and reload HAProxy on it; when HAProxy is not running (boot), only
 * install it once a trial start shows it starts. Nothing is committed when this step begins
 * (the runtime step commits only on its way to `applied`); `runtimeTouched` says whether a
 * failed runtime step left commands to undo.
 */
async function reloadStep(
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
 * HAProxy runs `next`. PgBouncer: a changed [databases] include is applied with RELOAD
 * (clients stay connected); pooled server connections are moved off an old worker or a
 * removed server with RECONNECT. Then the drained slots are finished.
 */
async function finishSteps(
  deps: ApplyDeps,
  request: ApplyRequest,
  input: ChangeInput,
  haproxy: HaproxyApplied,
): Promise<Outcome> {
  const { next, applied, live } = input;
  const { path, reconnect, afterDrain } = haproxy;
  try {
    const pgbouncer = await applyPgbouncerInclude(deps, {
      next,
      // The applied bundle's include was loaded and checked; the file on disk may be a killed
      // apply's that PgBouncer never loaded.
      lastGood: {
        text: applied ? installedInclude(applied, deps.config.haproxy.host) : live.pgbouncer,
        bundle: applied,
      },
      reload: input.pgbouncerReload,
      servicesMayBeDown: !!request.servicesMayBeDown,
    });
    if (reconnect.length > 0 && pgbouncer === 'applied') {
      await pgbouncerStep(deps, request, () => deps.pgbouncer.reconnect(reconnect), 'RECONNECT');
    }
  } catch (error) {
    return {
      ok: false,
      action: path,
      error: `HAProxy is on the new config but PgBouncer was not updated: ${errorMessage(error)}`,
      keepInProgress: true,
      pending: 'keep',
    };
  }
  try {
    await finishDrainedSlots(deps, afterDrain.drained, afterDrain.commands);
  } catch (error) {
    return {
      ok: false,
      action: path,
      error: `drained slots were not finished (maint / new address): ${errorMessage(error)}`,
      keepInProgress: true,
      pending: 'keep',
    };
  }
  return { ok: true, action: path, applied: next, pending: 'remove-after-applied' };
}

/**
 * Wait (bounded by 3 s) until every slot the plan forced to `stopping`/`down` is UP again,
 * i.e. a check made after its change passed. A slot whose new server fails stays down and
 * the wait just ends at the bound: the apply goes on, the slot stays out of service.
 */
async function waitForFreshChecks(
  deps: ApplyDeps,
  commands: readonly RuntimeCommand[],
): Promise<void> {
  const slots = new Set(
    commands.filter((c) => c.kind === 'health').map((c) => `${c.backend}/${c.server}`),
  );
  const deadline = Date.now() + 3_000;
  while (slots.size > 0 && Date.now() < deadline) {
    const rows = (await deps.runtime.showServersState()).rows;
    for (const row of rows) {
      if (passedCheck(row.opState)) slots.delete(`${row.backend}/${row.server}`);
    }
    if (slots.size > 0) await sleep(50);
  }
  if (slots.size > 0) deps.log?.(`not UP after a fresh check within 3 s: ${[...slots].join(', ')}`);
}

/**
 * A failed apply whose runtime commands or file swap must not stay: restore the previous
 * file (if swapped), undo the runtime commands (undo-runtime.ts), drop the staged file. The
 * result says exactly what ran. No reload is tried here: the running worker is the one on the
 * previous file, and a reload without a fitting server-state file would itself send reads to
 * servers nobody checked.
 */
async function undoApply(
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

/**
 * Wait (bounded by drainTimeoutMs) until each drained slot has no session left (PgBouncer's
 * RECONNECT moves its pooled connections as they are released), then run the second phase:
 * maint for freed slots, the new address for re-addressed ones.
 */
async function finishDrainedSlots(
  deps: ApplyDeps,
  drained: readonly SlotRef[],
  commands: readonly RuntimeCommand[],
): Promise<void> {
  const deadline = Date.now() + deps.config.haproxy.drainTimeoutMs;
  for (const slot of drained) {
    while (Date.now() < deadline) {
      if ((await deps.runtime.currentSessions(slot.backend, slot.server)) === 0) break;
      await sleep(50);
    }
  }
  for (const command of commands) await deps.runtime.run(command);
  if (drained.length > 0) {
    deps.log?.(`drained ${drained.map((s) => `${s.backend}/${s.server}`).join(', ')}`);
  }
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

/**
 * Dump `show servers state`, transform it, write the server-state file atomically. Throws
 * when the file cannot be written: the callers undo or do not reload.
 */
async function writeServerStateFile(
  deps: ApplyDeps,
  transform: (dump: ReturnType<typeof parseServersState>) => ReturnType<typeof parseServersState>,
): Promise<void> {
  const { serverStateFile } = haproxyRunFiles(deps.config);
  let dump: ReturnType<typeof parseServersState>;
  try {
    dump = parseServersState(await deps.runtime.dumpServersState());
  } catch (error) {
    // No dump: a stale file could put old ports on servers; without one, checks decide.
    deps.log?.(`no servers state dump (${errorMessage(error)}); removing the server-state file`);
    removeServerStateFile(deps.config);
    return;
  }
  atomicWriteFile(serverStateFile, formatServersState(transform(dump)), 0o600);
}

/** Remove the server-state file; throws when it stays (a stale one must not be loaded). */
function removeServerStateFile(config: AgentConfig): void {
  try {
    unlinkSync(haproxyRunFiles(config).serverStateFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

async function pgbouncerStep(
  deps: ApplyDeps,
  request: ApplyRequest,
  step: () => Promise<void>,
  name: string,
): Promise<void> {
  try {
    await step();
  } catch (error) {
    const unreachable = error instanceof PgbouncerAdminError && /cannot reach/.test(error.message);
    if (request.servicesMayBeDown && unreachable) {
      deps.log?.(`PgBouncer is not running: ${name} skipped, it reads the include when it starts`);
      return;
    }
    throw error;
  }
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

/** The PgBouncer aliases of a bundle (reader and writer endpoints), those behind `which` backends. */
function aliasesOf(bundle: Bundle, which: (backend: string) => boolean = () => true): string[] {
  return bundle.clusters
    .flatMap(pgbouncerEntries)
    .filter((e) => which(e.backend))
    .map((e) => e.alias);
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
