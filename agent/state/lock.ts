import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { safeUnlink } from './atomic-write';
import { LockBusyError } from './errors';
import {
  currentProcessIdentity,
  type ProcessIdentity,
  type ProcessProbe,
  systemProcessProbe,
} from './process-identity';

/**
 * One apply at a time. The lock is a file created with O_EXCL holding the holder's pid,
 * start time and a random token. A holder that crashed (kill -9) leaves the file behind; the
 * next caller sees the holder is gone and breaks the lock. Breaking is itself guarded by an
 * O_EXCL "breaker" file and re-checks that the lock still holds the same stale content, so
 * two callers that both saw the same stale lock cannot both take it.
 */
export interface LockHolder extends ProcessIdentity {
  token: string;
  acquiredAt: string;
}

/** A lock file that could not be parsed is stale once it is this old (holder died mid-write). */
export const UNREADABLE_LOCK_STALE_MS = 5_000;
/** A breaker file left by a caller that died while breaking is ignored after this long. */
export const BREAKER_STALE_MS = 10_000;

/**
 * Pass conditions for "stale" (the lock may be broken):
 * - the content is unreadable and the file is older than UNREADABLE_LOCK_STALE_MS; or
 * - no process with the holder's pid exists; or
 * - a process with that pid exists but started at another time (the pid was reused).
 * A readable lock whose holder runs is never stale, however old (applies are bounded by
 * their own timeouts, and breaking a live holder's lock would allow two applies).
 */
export function isLockStale(
  holder: LockHolder | undefined,
  fileAgeMs: number,
  probe: ProcessProbe,
): boolean {
  if (holder === undefined) return fileAgeMs > UNREADABLE_LOCK_STALE_MS;
  if (!probe.exists(holder.pid)) return true;
  if (holder.startTime === undefined) return false;
  const now = probe.startTime(holder.pid);
  return now !== undefined && now !== holder.startTime;
}

export function parseLockHolder(raw: string): LockHolder | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof value.pid === 'number' && typeof value.token === 'string') {
      return value as LockHolder;
    }
  } catch {
    /* partial write */
  }
  return undefined;
}

export interface HeldLock {
  holder: LockHolder;
  release(): void;
}

export interface AcquireOptions {
  timeoutMs?: number;
  pollMs?: number;
  probe?: ProcessProbe;
  /** Identity written into the lock (tests simulate other processes). */
  identity?: ProcessIdentity;
}

export async function acquireLock(path: string, options: AcquireOptions = {}): Promise<HeldLock> {
  const { timeoutMs = 30_000, pollMs = 50, probe = systemProcessProbe } = options;
  const identity = options.identity ?? currentProcessIdentity();
  const holder: LockHolder = {
    ...identity,
    token: randomUUID(),
    acquiredAt: new Date().toISOString(),
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tryCreate(path, holder)) {
      return { holder, release: () => releaseLock(path, holder.token) };
    }
    const observed = readLock(path);
    if (observed !== undefined) {
      const current = parseLockHolder(observed.raw);
      if (isLockStale(current, observed.ageMs, probe)) {
        breakStaleLock(path, observed.raw);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new LockBusyError(
          `another apply holds ${path} (pid ${current?.pid ?? 'unknown'} since ${current?.acquiredAt ?? 'unknown'})`,
        );
      }
    }
    await sleep(pollMs);
  }
}

function tryCreate(path: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, JSON.stringify(holder));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readLock(path: string): { raw: string; ageMs: number } | undefined {
  try {
    const ageMs = Date.now() - statSync(path).mtimeMs;
    return { raw: readFileSync(path, 'utf8'), ageMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Remove the lock only if it still holds exactly the stale content we judged. */
export function breakStaleLock(path: string, staleRaw: string): void {
  const breaker = `${path}.break`;
  let fd: number;
  try {
    fd = openSync(breaker, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const stale = readLock(breaker);
    if (stale !== undefined && stale.ageMs > BREAKER_STALE_MS) safeUnlink(breaker);
    return;
  }
  try {
    writeSync(fd, String(process.pid));
    closeSync(fd);
    if (readLock(path)?.raw === staleRaw) safeUnlink(path);
  } finally {
    safeUnlink(breaker);
  }
}

function releaseLock(path: string, token: string): void {
  const current = readLock(path);
  if (current !== undefined && parseLockHolder(current.raw)?.token === token) safeUnlink(path);
}
