import { chmodSync, chownSync, readFileSync, statSync } from 'node:fs';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { commitTempFile, safeUnlink, writeTempFile } from '../state/atomic-write';
import { SecretApplyError } from './errors';

/**
 * Replace PgBouncer's auth_file atomically: a temp file in the same directory, with the old
 * file's owner and mode (PgBouncer runs as postgres and must read it; nobody else may), fsync,
 * rename, fsync of the directory. PgBouncer re-reads the file at RELOAD when its inode, size
 * or mtime changed (loader.c auth_loaded): a rename always gives a new inode.
 * Returns false, writing nothing, when the file already holds exactly these bytes.
 */
export function replaceUserlistFile(path: string, text: string): boolean {
  let current: string | undefined;
  let owner = { uid: -1, gid: -1, mode: 0o640 };
  try {
    current = readFileSync(path, 'utf8');
    const s = statSync(path);
    owner = { uid: s.uid, gid: s.gid, mode: s.mode & 0o777 };
  } catch {
    /* no file yet: root-owned 0640 */
  }
  if (current === text) return false;
  let temp: string | undefined;
  try {
    temp = writeTempFile(path, text, 0o600);
    if (owner.uid >= 0) chownSync(temp, owner.uid, owner.gid);
    chmodSync(temp, owner.mode);
    commitTempFile(temp, path);
  } catch (cause) {
    if (temp) safeUnlink(temp);
    throw new SecretApplyError(`cannot replace ${path}: ${errorMessage(cause)}`, { cause });
  }
  return true;
}
