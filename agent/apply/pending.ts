import { setTimeout as sleep } from 'node:timers/promises';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { DaemonStatus } from '../health/check-protocol';
import { DaemonStatusError } from '../health/errors';
import { queryDaemonStatus } from '../health/status-client';
import {
  mergePendingSlots,
  type PendingSlots,
  pendingSlotsPath,
  readPendingSlots,
  removePendingSlots,
  writePendingSlots,
} from '../state/pending-slots';

/**
 * The pending slot map around an apply's HAProxy changes (issue 16 #1; the file and why:
 * agent/state/pending-slots.ts). `beginTransition` runs before the first HAProxy change:
 * it writes the map (next bundle's servers, plus any left by a killed apply) and waits until
 * the health daemon's `status` shows it in effect with no verdict push in flight, so every
 * check answered from then on judges each server a changed slot may live at, and every slot
 * that now fails is already down in HAProxy. Outcomes:
 * - daemon unreachable (connection refused / no answer): proceed. Its checks fail closed
 *   (tcp-check and postgresqlchk both), and when it comes back it reads the map first.
 * - daemon answers but never shows the map in effect within `waitMs`, or shows no
 *   `pendingSha256` at all (a daemon from before this change): TransitionError, and the
 *   apply changes nothing; judging by the applied bundle alone is the fault being closed.
 * - map not writable: TransitionError, nothing changed.
 * The caller then `settle`s: `remove` once the applied bundle says what HAProxy runs,
 * `restore` when nothing changed (the map left by a killed apply, if any, comes back), or
 * leaves it (`keep`) when HAProxy's live state is not known to match the applied bundle.
 */
export class TransitionError extends Error {
  override readonly name = 'TransitionError';
}

export interface TransitionDeps {
  stateDir: string;
  daemon: { address: string; port: number };
  /** Bound on the wait for the daemon (default 5 s: its staging bound is ~2.3 s). */
  waitMs?: number;
  log?: (line: string) => void;
  /** For tests: ask the daemon (default: the check port's `status`). */
  queryStatus?: () => Promise<DaemonStatus>;
}

export type PendingSettlement = 'remove' | 'restore' | 'keep';

export interface Transition {
  /** The map written (merged with a leftover one). */
  pending: PendingSlots;
  settle(how: PendingSettlement): string | undefined;
}

export async function beginTransition(deps: TransitionDeps, next: Bundle): Promise<Transition> {
  const log = deps.log ?? (() => {});
  let leftover: PendingSlots | undefined;
  try {
    leftover = readPendingSlots(deps.stateDir);
  } catch (error) {
    // Cannot happen with atomic writes short of a damaged disk; the daemon fails every slot
    // meanwhile. The apply after a killed one reloads, starting changed slots DOWN.
    log(`pending slot map unreadable (${errorMessage(error)}); replacing it`);
  }
  if (leftover)
    log(`pending slot map of an unfinished apply (${leftover.sha256}) kept in the new one`);
  const pending = mergePendingSlots(leftover, next);
  try {
    writePendingSlots(deps.stateDir, pending);
  } catch (error) {
    throw new TransitionError(
      `could not write the pending slot map ${pendingSlotsPath(deps.stateDir)}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  const settle = (how: PendingSettlement): string | undefined => {
    try {
      if (how === 'remove') removePendingSlots(deps.stateDir);
      else if (how === 'restore') {
        if (leftover) writePendingSlots(deps.stateDir, leftover);
        else removePendingSlots(deps.stateDir);
      }
      return undefined;
    } catch (error) {
      // The daemon then stays strict (safe); say so in the result.
      return `pending slot map not ${how === 'remove' ? 'removed' : 'restored'}: ${errorMessage(error)}`;
    }
  };
  try {
    await waitForDaemon(deps, pending.sha256, log);
  } catch (error) {
    const restoreError = settle('restore');
    throw new TransitionError(`${errorMessage(error)}${restoreError ? `; ${restoreError}` : ''}`, {
      cause: error,
    });
  }
  return { pending, settle };
}

async function waitForDaemon(
  deps: TransitionDeps,
  sha256: string,
  log: (line: string) => void,
): Promise<void> {
  const waitMs = deps.waitMs ?? 5_000;
  const query =
    deps.queryStatus ?? (() => queryDaemonStatus(deps.daemon.port, deps.daemon.address, 1_000));
  const started = Date.now();
  let last: DaemonStatus | undefined;
  for (;;) {
    try {
      last = await query();
    } catch (error) {
      if (error instanceof DaemonStatusError && last === undefined) {
        log(
          `health daemon not answering (${errorMessage(error)}): its checks fail closed; proceeding`,
        );
        return;
      }
      if (!(error instanceof DaemonStatusError)) throw error;
    }
    if (last && last.pendingSha256 === undefined) {
      throw new Error(
        'the health daemon does not follow pending slot maps (started before an upgrade?): restart it; nothing changed',
      );
    }
    if (last?.pendingSha256 === sha256 && (last.pushesInFlight ?? 0) === 0) {
      log(
        `health daemon judges every server the changed slots may be at (${Date.now() - started} ms)`,
      );
      return;
    }
    if (Date.now() - started > waitMs) {
      if (last?.pendingSha256 === sha256) {
        log(
          `health daemon has the pending map but ${last.pushesInFlight} push(es) still in flight after ${waitMs} ms; proceeding`,
        );
        return;
      }
      throw new Error(
        `the health daemon did not take the pending slot map within ${waitMs} ms (it reports ${last?.pendingSha256 ?? 'none'}); nothing changed`,
      );
    }
    await sleep(25);
  }
}
