import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseBundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { Log } from '@aurora-haproxy/contract/log';
import { parsePendingSlots } from '../state/pending-slots';
import { type BundleIndex, EMPTY_INDEX, indexBundle } from './bundle-index';
import { indexPending } from './candidates';
import type { PendingState } from './health-monitor';

/**
 * Follows <stateDir>/applied-bundle.json. apply replaces it atomically (rename), so a
 * change shows as a new inode or mtime. An inotify watch on the directory (it survives the
 * rename, a watch on the file would not) picks a change up at once: in agent check mode the
 * daemon is asked by slot name only, so the sooner it knows a slot was re-addressed, the
 * shorter the time it answers for the slot's previous server. A stat every `pollMs` backs
 * the watch up (a directory created later, an inotify limit). A file that does not parse or whose content does not
 * hash to its sha256 is refused and the previous index stays (logged): the daemon never
 * probes a half-understood bundle.
 *
 * With `pendingPath` it also follows apply's pending slot map (state/pending-slots.ts) and
 * hands both over together. On any change it reads the pending map first and the applied
 * bundle second: apply renames the new applied bundle into place before it removes the
 * pending map, so a read that finds the map gone then finds the new applied bundle, and no
 * moment leaves a slot judged by its old server alone. A pending map that does not parse
 * makes every slot fail (the daemon cannot know where slots live).
 */
export class AppliedBundleWatcher {
  private index: BundleIndex = EMPTY_INDEX;
  private pending: PendingState;
  private fingerprint = '';
  private pendingFingerprint = '';
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    readonly path: string,
    private readonly onChange: (index: BundleIndex, pending: PendingState) => void,
    private readonly log: Log,
    private readonly pollMs = 200,
    private readonly pendingPath?: string,
  ) {}

  current(): BundleIndex {
    return this.index;
  }

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => this.checkSoon(), this.pollMs);
    this.timer.unref();
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (
          name === null ||
          name === basename(this.path) ||
          (this.pendingPath !== undefined && name === basename(this.pendingPath))
        ) {
          this.checkSoon();
        }
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // No directory yet, or no inotify: the poll covers it.
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** One read at a time; a change seen during a read is picked up by the next trigger. */
  private checkSoon(): void {
    this.reading ??= this.check().finally(() => {
      this.reading = undefined;
    });
  }

  /** Re-read now if a file changed (also used by tests to avoid waiting for a poll). */
  async check(): Promise<void> {
    // The pending map first: see the class comment for why the order matters.
    const pendingChanged = await this.checkPending();
    const appliedChanged = await this.checkApplied();
    if (pendingChanged || appliedChanged) this.onChange(this.index, this.pending);
  }

  private async checkPending(): Promise<boolean> {
    if (this.pendingPath === undefined) return false;
    const fingerprint = await fingerprintOf(this.pendingPath);
    if (fingerprint === this.pendingFingerprint) return false;
    this.pendingFingerprint = fingerprint;
    if (fingerprint.startsWith('missing:')) {
      if (this.pending !== undefined) this.log.info('pending slot map removed', {});
      this.pending = undefined;
      return true;
    }
    try {
      const pending = parsePendingSlots(await readFile(this.pendingPath, 'utf8'));
      this.pending = indexPending(pending);
      this.log.info('pending slot map read', {
        sha256: pending.sha256,
        candidates: pending.candidates.length,
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.pending = undefined;
        return true;
      }
      this.pending = 'unreadable';
      this.log.error('pending slot map refused: every slot fails until it is replaced', {
        path: this.pendingPath,
        error: errorMessage(error),
      });
    }
    return true;
  }

  private async checkApplied(): Promise<boolean> {
    const fingerprint = await fingerprintOf(this.path);
    if (fingerprint === this.fingerprint) return false;
    this.fingerprint = fingerprint;
    if (fingerprint.startsWith('missing:')) {
      // No applied bundle (yet): nothing to probe, every check fails as unknown.
      if (this.index !== EMPTY_INDEX)
        this.log.warn('applied bundle disappeared', { path: this.path });
      this.index = EMPTY_INDEX;
      return true;
    }
    try {
      const bundle = parseBundle(await readFile(this.path, 'utf8'));
      if (bundle.sha256 === this.index.sha256) return false;
      this.index = indexBundle(bundle);
      this.log.info('applied bundle loaded', {
        sha256: bundle.sha256,
        servers: this.index.servers.size,
        slots: this.index.slots.size,
      });
      return true;
    } catch (error) {
      this.log.error('applied bundle refused; keeping the previous one', {
        path: this.path,
        error: errorMessage(error),
      });
      return false;
    }
  }
}

async function fingerprintOf(path: string): Promise<string> {
  try {
    const s = await stat(path);
    return `${s.ino}:${s.mtimeMs}:${s.size}`;
  } catch (error) {
    return `missing:${(error as NodeJS.ErrnoException).code}`;
  }
}
