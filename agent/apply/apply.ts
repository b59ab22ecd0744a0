import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentAction, AgentResult } from '../../functions/contracts/agent-result';
import type { Bundle } from '../../functions/contracts/bundle';
import { SHA256_HEX } from '../../functions/contracts/patterns';
import type { AgentConfig } from '../config';
import { haproxyRunFiles, hostEnvironment } from '../config';
import { HaproxyReloadError, HaproxySocketError } from '../haproxy/errors';
import type { HaproxyMasterCli } from '../haproxy/master-cli';
import type { HaproxyRuntimeApi, RuntimeCommand } from '../haproxy/runtime-api';
import { formatServersState, parseServersState } from '../haproxy/servers-state';
import { validateConfig } from '../haproxy/validate';
import type { PgbouncerAdmin } from '../pgbouncer/admin';
import { PgbouncerAdminError } from '../pgbouncer/errors';
import { checkInclude, expectedDatabases } from '../pgbouncer/verify-databases';
import { atomicWriteFile, commitTempFile, safeUnlink, writeTempFile } from '../state/atomic-write';
import { acquireLock } from '../state/lock';
import { pidExists } from '../state/process-identity';
import { type AgentState, readOptional, type StateStore } from '../state/state-store';
import { decideApplyPath } from './decide';
import { applyPgbouncerInclude } from './pgbouncer-step';
import { confirmUnchanged, proveStarts, refusalReason } from './prove-start';
import { describeRefusal, recordRefusal, refusalDecision } from './refusal';
import { type HostResolver, resolveBundleNames, systemResolver } from './resolve';
import { limitError } from './result';
import { backendsLosingServers, planRuntimeCommands, type SlotRef } from './runtime-plan';
import { rewriteServerState } from './server-state-rewrite';
import { type HostVersions, hostVersions, unmetRequirements } from './versions';

/**
 * apply: read the bundle and verify its sha (before anything else), then under the apply lock
 * stage -> validate (`haproxy -c` on the staged bytes) -> runtime API or swap + reload ->
 * rollback on a failed reload -> PgBouncer RELOAD/RECONNECT -> record the applied bundle.
 *
 * Crash safety: every file is replaced atomically (old or new bytes, never half), and
 * state.json carries `inProgress` from before the first change until the end, so an apply
 * killed at any point is followed by one that reloads HAProxy from the (whole) file on disk.
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
      error: `bundle ${request.sha256} rejected, nothing changed: ${message(error)}`,
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
  const unmet = unmetRequirements(next, versions);
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
    return finish({ ok: false, action: 'unchanged', error: message(error) });
  }
  try {
    let outcome: Outcome;
    let before: AgentState;
    try {
      before = deps.store.readState();
    } catch (error) {
      deps.log?.(
        `state file unreadable (${message(error)}); treating the last apply as interrupted`,
      );
      before = {
        appliedSha256: null,
        inProgress: { sha256: next.sha256, startedAt: new Date().toISOString(), pid: 0 },
      };
    }
    try {
      outcome = await applyLocked(deps, request, next, before);
    } catch (error) {
      // Unexpected: keep inProgress so the next apply reloads from the file on disk.
      outcome = { ok: false, action: 'reload', error: message(error), keepInProgress: true };
    }
    const result = finish(outcome);
    const latest = safeReadState(deps.store) ?? before;
    if (outcome.applied) deps.store.writeAppliedBundle(outcome.applied);
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
    deps.store.writeState({
      appliedSha256: outcome.applied?.sha256 ?? latest.appliedSha256,
      lastResult: { ...result, finishedAt: new Date().toISOString() },
      ...(outcome.keepInProgress && latest.inProgress ? { inProgress: latest.inProgress } : {}),
      ...(refused ? { refused } : {}),
    });
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
  removeLeftoverTempFiles([cfgPath, dbPath, store.statePath, store.appliedBundlePath]);

  let applied: Bundle | undefined;
  try {
    applied = store.readAppliedBundle();
  } catch (error) {
    log(`applied bundle unreadable (${message(error)}); reloading from scratch`);
  }
  const live = { haproxy: readOptional(cfgPath), pgbouncer: readOptional(dbPath) };
  const decision = decideApplyPath({
    applied,
    next,
    interrupted: state.inProgress !== undefined,
    liveFilesMatchApplied:
      applied !== undefined &&
      live.haproxy === applied.files.haproxy &&
      live.pgbouncer === applied.files.pgbouncerDatabases,
  });
  log(`apply ${next.sha256}: ${decision.path} (${decision.reason})`);
  if (decision.path === 'unchanged') {
    // Only when HAProxy and PgBouncer really run it (or, at boot, the file starts).
    const wrong = applied && (await confirmUnchanged(deps, applied, !!request.servicesMayBeDown));
    return wrong
      ? { ok: false, action: 'unchanged', error: wrong }
      : { ok: true, action: 'unchanged' };
  }
  const refusal = refusalDecision(state.refused, next.sha256, new Date(), request.force);
  if (refusal.kind === 'hold') return { ok: false, action: 'unchanged', error: refusal.error };
  const includeProblems = checkInclude(next.files.pgbouncerDatabases, expectedDatabases(next));
  if (includeProblems.length > 0) {
    return {
      ok: false,
      action: 'unchanged',
      error: `the bundle's PgBouncer [databases] include is refused: ${includeProblems.join('; ')}; nothing changed`,
    };
  }

  // From here on something may change: mark the apply as in progress first.
  store.writeState({
    ...state,
    inProgress: { sha256: next.sha256, startedAt: new Date().toISOString(), pid: process.pid },
  });
  const notStarted = (error: string): Outcome => {
    store.writeState(state); // nothing changed: back to exactly what was there
    return { ok: false, action: 'unchanged', error, keepInProgress: true };
  };

  // Stage next to the live file and validate the exact bytes that will be renamed into place.
  const stagedHaproxy = writeTempFile(cfgPath, next.files.haproxy);
  let haproxyCommitted = false;
  try {
    await validateConfig(
      config.haproxy.binary,
      stagedHaproxy,
      hostEnvironment(config.haproxy.host),
    );
  } catch (error) {
    safeUnlink(stagedHaproxy);
    return notStarted(`${message(error)}; nothing changed`);
  }
  if (refusal.kind === 'trial') {
    // Refused before: reload only once a trial start shows the cause is gone.
    try {
      await proveStarts(deps, stagedHaproxy);
      log('refused before, but its trial start passes now: reloading');
    } catch (error) {
      safeUnlink(stagedHaproxy);
      return notStarted(
        `${describeRefusal(refusal.refused)}; still: ${message(error)}; not reloaded; nothing changed`,
      );
    }
  }

  const resolved = await resolveBundleNames(next, deps.resolveHost ?? systemResolver);
  const running = request.servicesMayBeDown ? await haproxyAnswers(deps.master) : true;
  let path: 'runtime' | 'reload' = decision.path;
  /** PgBouncer databases whose pooled server connections must move (RECONNECT). */
  let reconnect: string[] = [];
  /** Second phase of a runtime apply: after the drained slots emptied. */
  let afterDrain: { drained: SlotRef[]; commands: RuntimeCommand[] } = {
    drained: [],
    commands: [],
  };

  if (path === 'runtime') {
    try {
      const liveState = await deps.runtime.showServersState();
      const plan = planRuntimeCommands({
        previous: applied,
        next,
        live: liveState.rows,
        resolved,
      });
      for (const command of plan.commands) await deps.runtime.run(command);
      afterDrain = { drained: plan.drained, commands: plan.afterDrain };
      commitTempFile(stagedHaproxy, cfgPath);
      haproxyCommitted = true;
      // A restart loads the state file: keep it in step with the file just swapped in.
      await writeServerStateFile(deps, (dump) =>
        rewriteServerState({ dump, previous: next, next, resolved }),
      );
      log(`runtime API: ${plan.commands.length} command(s), no reload`);
      const losing = backendsLosingServers(applied, next);
      reconnect = aliasesOf(next, (c) => losing.has(c.backend));
    } catch (error) {
      log(`runtime apply failed (${message(error)}); falling back to a reload`);
      path = 'reload';
      // The new worker starts from the file: nothing of the runtime plan is left to finish.
      afterDrain = { drained: [], commands: [] };
    }
  }

  if (path === 'reload') {
    if (!running && !haproxyCommitted) {
      // Nothing can show a config starts but starting it (haproxy -c binds nothing).
      try {
        await proveStarts(deps, stagedHaproxy);
      } catch (error) {
        safeUnlink(stagedHaproxy);
        return notStarted(`${message(error)}; the last good config stays installed`);
      }
    }
    if (!haproxyCommitted) commitTempFile(stagedHaproxy, cfgPath);
    haproxyCommitted = true;
    if (!running) {
      log('HAProxy is not running: config installed, HAProxy loads it when it starts');
      safeUnlink(haproxyRunFiles(config).serverStateFile);
    } else {
      try {
        await writeServerStateFile(deps, (dump) =>
          rewriteServerState({ dump, previous: applied, next, resolved }),
        );
        const outcome = await deps.master.reload();
        log(`reloaded: new worker ${outcome.newWorkerPid}`);
        // Every pooled connection is on the old worker now; aliases new in this bundle have none.
        const known = new Set(applied ? aliasesOf(applied) : []);
        reconnect = aliasesOf(next).filter((alias) => known.has(alias));
      } catch (error) {
        const reason = await refusalReason(deps, error);
        const outcome = await rollback(deps, live.haproxy, applied, reason);
        return error instanceof HaproxyReloadError && error.refused
          ? { ...outcome, refusedReason: reason, refusedAfterTrial: refusal.kind === 'trial' }
          : outcome;
      }
    }
  }

  // PgBouncer: a changed [databases] include is applied with RELOAD (clients stay connected);
  // pooled server connections are moved off an old worker or a removed server with RECONNECT.
  try {
    const pgbouncer = await applyPgbouncerInclude(deps, {
      next,
      lastGood: { text: live.pgbouncer, bundle: applied },
      changed: live.pgbouncer !== next.files.pgbouncerDatabases,
      servicesMayBeDown: !!request.servicesMayBeDown,
    });
    if (reconnect.length > 0 && pgbouncer === 'applied') {
      await pgbouncerStep(deps, request, () => deps.pgbouncer.reconnect(reconnect), 'RECONNECT');
    }
  } catch (error) {
    return {
      ok: false,
      action: path,
      error: `HAProxy is on the new config but PgBouncer was not updated: ${message(error)}`,
      keepInProgress: true,
    };
  }
  try {
    await finishDrainedSlots(deps, afterDrain.drained, afterDrain.commands);
  } catch (error) {
    return {
      ok: false,
      action: path,
      error: `drained slots were not finished (maint / new address): ${message(error)}`,
      keepInProgress: true,
    };
  }
  return { ok: true, action: path, applied: next };
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

async function rollback(
  deps: ApplyDeps,
  lastGood: string | undefined,
  applied: Bundle | undefined,
  reloadError: string,
): Promise<Outcome> {
  const cfgPath = deps.config.haproxy.configPath;
  const log = deps.log ?? (() => {});
  if (lastGood === undefined) {
    return {
      ok: false,
      action: 'rollback',
      error: `reload failed: ${reloadError}; there is no previous config to restore`,
      keepInProgress: true,
    };
  }
  atomicWriteFile(cfgPath, lastGood);
  const what = applied ? `the last-known-good config (${applied.sha256})` : 'the previous config';
  try {
    // The worker still running is the one on lastGood: its state dump fits lastGood as is.
    await writeServerStateFile(deps, (dump) => dump);
    await deps.master.reload();
    log(`reload failed; restored ${what} and reloaded it`);
    let moved = '';
    try {
      if (applied) await deps.pgbouncer.reconnect(aliasesOf(applied));
    } catch (error) {
      moved = `; PgBouncer RECONNECT failed: ${message(error)}`;
    }
    return {
      ok: false,
      action: 'rollback',
      error: `reload failed: ${reloadError}; restored ${what} and reloaded it${moved}`,
    };
  } catch (error) {
    return {
      ok: false,
      action: 'rollback',
      error: `reload failed: ${reloadError}; restored ${what} but its reload failed too: ${message(error)}`,
      keepInProgress: true,
    };
  }
}

/** Dump `show servers state`, transform it, write the server-state file atomically. */
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
    deps.log?.(`no servers state dump (${message(error)}); removing the server-state file`);
    safeUnlink(serverStateFile);
    return;
  }
  atomicWriteFile(serverStateFile, formatServersState(transform(dump)), 0o600);
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

function aliasesOf(
  bundle: Bundle,
  which: (cluster: Bundle['clusters'][number]) => boolean = () => true,
): string[] {
  return bundle.clusters.filter(which).flatMap((c) => c.databases.map((d) => d.alias));
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

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
