import { rmSync } from 'node:fs';

/**
 * Remove a temporary directory tree; never throws. A process that was just killed may still be
 * closing files in it (ENOTEMPTY): retried; a tree that still will not go is named in a warning,
 * not a failed teardown.
 */
export function removeTree(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  } catch (error) {
    console.warn(`could not remove ${dir}: ${error instanceof Error ? error.message : error}`);
  }
}
