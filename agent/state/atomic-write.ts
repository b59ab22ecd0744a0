import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Crash-safe file replacement: write a temp file in the same directory (so rename stays on
 * one filesystem and is atomic), fsync it, rename it over the target, fsync the directory
 * (so the rename itself survives a power loss). A reader, or HAProxy after a crash, sees
 * the old bytes or the new bytes, never a half-written file.
 */
export function tempPathFor(target: string): string {
  const random = Math.random().toString(36).slice(2, 10);
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${random}`);
}

/** Write `data` to a new temp file next to `target` and fsync it; returns the temp path. */
export function writeTempFile(target: string, data: string | Uint8Array, mode = 0o644): string {
  const temp = tempPathFor(target);
  const fd = openSync(temp, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    safeUnlink(temp);
    throw error;
  } finally {
    try {
      closeSync(fd);
    } catch {
      /* closed in the catch above */
    }
  }
  return temp;
}

/** Rename a (synced) temp file over `target` and fsync the directory. */
export function commitTempFile(temp: string, target: string): void {
  renameSync(temp, target);
  fsyncDirectory(dirname(target));
}

export function atomicWriteFile(target: string, data: string | Uint8Array, mode = 0o644): void {
  const temp = writeTempFile(target, data, mode);
  try {
    commitTempFile(temp, target);
  } catch (error) {
    safeUnlink(temp);
    throw error;
  }
}

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
