import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { RuntimeCommand } from '../haproxy/runtime-api';
import { passedCheck } from '../haproxy/servers-state';
import { commitTempFile } from '../state/atomic-write';
import type { ApplyDeps, ChangeInput, RuntimeStepResult } from './apply-types';
import { aliasesOf } from './bundle-aliases';
import { backendsLosingServers, planRuntimeCommands } from './runtime-plan';
import { writeServerStateFile } from './server-state-file';
import { rewriteServerState } from './server-state-rewrite';

/**
 * Runtime API commands, then the file and the server-state file that say what now runs.
 * Falls back to a reload when no plan can be made or a command fails (the reload, or its
 * rollback, settles whatever ran); undoes everything when a file cannot be written, rather than
 * leave runtime changes live behind old files.
 */
export async function runtimeStep(deps: ApplyDeps, input: ChangeInput): Promise<RuntimeStepResult> {
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
