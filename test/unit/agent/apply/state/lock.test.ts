import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockBusyError } from '../../../../../agent/state/errors';
import {
  acquireLock,
  isLockStale,
  type LockHolder,
  UNREADABLE_LOCK_STALE_MS,
} from '../../../../../agent/state/lock';
import type { ProcessProbe } from '../../../../../agent/state/process-identity';

const holder = (pid: number, startTime?: string): LockHolder => ({
  pid,
  startTime,
  token: 't',
  acquiredAt: '2026-01-01T00:00:00.000Z',
});
const probe = (alive: Record<number, string | undefined>): ProcessProbe => ({
  exists: (pid) => pid in alive,
  startTime: (pid) => alive[pid],
});

describe('isLockStale', () => {
  it.each([
    ['holder process gone', holder(10, '100'), 0, probe({}), true],
    ['holder alive, same start time', holder(10, '100'), 60_000, probe({ 10: '100' }), false],
    ['pid reused by another process', holder(10, '100'), 0, probe({ 10: '999' }), true],
    ['holder alive, start time unknown', holder(10), 0, probe({ 10: '100' }), false],
    ['unreadable lock, fresh (holder mid-write)', undefined, 100, probe({}), false],
    ['unreadable lock, old', undefined, UNREADABLE_LOCK_STALE_MS + 1, probe({}), true],
  ] as const)('%s -> stale %s', (_name, lockHolder, ageMs, processes, expected) => {
    // Prepare: arguments above / Act
    const stale = isLockStale(lockHolder, ageMs, processes);
    // Assess
    expect(stale).toBe(expected);
  });
});

describe('acquireLock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ah-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the lock to one caller at a time and frees it on release', async () => {
    // Prepare
    const path = join(dir, 'apply.lock');
    const first = await acquireLock(path);
    // Act
    const second = acquireLock(path, { timeoutMs: 150, pollMs: 20 });
    // Assess
    await expect(second).rejects.toThrow(LockBusyError);
    first.release();
    expect(existsSync(path)).toBe(false);
    const third = await acquireLock(path, { timeoutMs: 150 });
    third.release();
  });

  it('breaks the lock of a holder killed with SIGKILL', async () => {
    // Prepare: a real process takes the lock, then dies without releasing it
    const path = join(dir, 'apply.lock');
    const child = spawn('sleep', ['30']);
    const pid = child.pid as number;
    await acquireLock(path, { identity: { pid } });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // Act
    const lock = await acquireLock(path, { timeoutMs: 2_000 });
    // Assess
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('lets exactly one of several waiters take a stale lock at a time', async () => {
    // Prepare: a stale lock left by a pid that does not exist
    const path = join(dir, 'apply.lock');
    writeFileSync(path, JSON.stringify(holder(2 ** 22 + 12345, '1')));
    let inside = 0;
    let maxInside = 0;
    // Act: five callers in this process race to break it and take turns
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const lock = await acquireLock(path, { timeoutMs: 5_000, pollMs: 5 });
        inside += 1;
        maxInside = Math.max(maxInside, inside);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inside -= 1;
        lock.release();
      }),
    );
    // Assess
    expect(maxInside).toBe(1);
    expect(existsSync(path)).toBe(false);
  });

  it('does not release a lock it no longer holds', async () => {
    // Prepare: our lock file was replaced by another holder's
    const path = join(dir, 'apply.lock');
    const lock = await acquireLock(path);
    writeFileSync(path, JSON.stringify(holder(process.pid, 'other')));
    // Act
    lock.release();
    // Assess
    expect(existsSync(path)).toBe(true);
  });
});
