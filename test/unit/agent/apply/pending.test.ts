import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { beginTransition, TransitionError } from '../../../../agent/apply/pending';
import type { DaemonStatus } from '../../../../agent/health/check-protocol';
import { DaemonStatusError } from '../../../../agent/health/errors';
import {
  mergePendingSlots,
  readPendingSlots,
  writePendingSlots,
} from '../../../../agent/state/pending-slots';
import { bundleOf } from './fixtures';

const A = { id: 'db-a', address: '10.0.0.1', port: 5432 };
const B = { id: 'db-b', address: '10.0.0.2', port: 5432 };
const dirs: string[] = [];
const stateDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'ah-transition-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const status = (pendingSha256: string | null | undefined, pushesInFlight = 0): DaemonStatus => ({
  sha256: null,
  ...(pendingSha256 === undefined ? {} : { pendingSha256 }),
  pushesInFlight,
  slots: [],
});
const deps = (dir: string, queryStatus: () => Promise<DaemonStatus>) => ({
  stateDir: dir,
  daemon: { address: '127.0.0.1', port: 1 },
  waitMs: 200,
  queryStatus,
});

describe('beginTransition', () => {
  it('writes the map and returns once the daemon shows it in effect with no push in flight', async () => {
    // Prepare
    const dir = stateDir();
    const next = bundleOf([A]);
    const answers = [status(null), status(next.sha256, 1), status(next.sha256, 0)];
    let asked = 0;
    // Act
    const transition = await beginTransition(
      deps(dir, async () => answers[Math.min(asked++, 2)] as DaemonStatus),
      next,
    );
    // Assess
    expect(asked).toBe(3);
    expect(readPendingSlots(dir)?.sha256).toBe(next.sha256);
    expect(transition.settle('remove')).toBeUndefined();
    expect(readPendingSlots(dir)).toBeUndefined();
  });

  it('proceeds when the daemon is unreachable (its checks fail closed)', async () => {
    // Act
    const dir = stateDir();
    const transition = await beginTransition(
      deps(dir, async () => {
        throw new DaemonStatusError('health daemon 127.0.0.1:1 unreachable');
      }),
      bundleOf([A]),
    );
    // Assess
    expect(transition.pending.candidates).toHaveLength(1);
  });

  it('refuses, and puts back the map of a killed apply, when the daemon answers but never takes the map', async () => {
    // Prepare
    const dir = stateDir();
    const leftover = mergePendingSlots(undefined, bundleOf([B]));
    writePendingSlots(dir, leftover);
    // Act
    const never = beginTransition(
      deps(dir, async () => status(leftover.sha256)),
      bundleOf([A]),
    );
    // Assess
    await expect(never).rejects.toThrow(TransitionError);
    await expect(never).rejects.toThrow(/did not take the pending slot map within 200 ms/);
    expect(readPendingSlots(dir)).toEqual(leftover);
  });

  it('refuses a daemon that does not follow pending maps (no pendingSha256 in its status)', async () => {
    // Act
    const dir = stateDir();
    const old = beginTransition(
      deps(dir, async () => status(undefined)),
      bundleOf([A]),
    );
    // Assess
    await expect(old).rejects.toThrow(/does not follow pending slot maps/);
    expect(readPendingSlots(dir)).toBeUndefined();
  });

  it('merges the map of a killed apply into the new one; restore brings the old one back', async () => {
    // Prepare
    const dir = stateDir();
    const leftover = mergePendingSlots(undefined, bundleOf([B]));
    writePendingSlots(dir, leftover);
    const next = bundleOf([A]);
    // Act
    const transition = await beginTransition(
      deps(dir, async () => status(next.sha256)),
      next,
    );
    // Assess
    expect(transition.pending.candidates.map((c) => c.address).sort()).toEqual([
      '10.0.0.1',
      '10.0.0.2',
    ]);
    transition.settle('restore');
    expect(readPendingSlots(dir)).toEqual(leftover);
  });
});
