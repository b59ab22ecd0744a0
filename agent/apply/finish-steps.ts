import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { RuntimeCommand } from '../haproxy/runtime-api';
import { PgbouncerAdminError } from '../pgbouncer/errors';
import { installedInclude } from '../pgbouncer/host-include';
import type { ApplyDeps, ApplyRequest, ChangeInput, HaproxyApplied, Outcome } from './apply-types';
import { applyPgbouncerInclude } from './pgbouncer-step';
import type { SlotRef } from './runtime-plan';

/**
 * HAProxy runs `next`. PgBouncer: a changed [databases] include is applied with RELOAD
 * (clients stay connected); pooled server connections are moved off an old worker or a
 * removed server with RECONNECT. Then the drained slots are finished.
 */
export async function finishSteps(
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

export async function pgbouncerStep(
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
