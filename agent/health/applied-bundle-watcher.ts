import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseBundle } from '../../functions/contracts/bundle';
import { type BundleIndex, EMPTY_INDEX, indexBundle } from './bundle-index';
import type { HealthLogger } from './log';

/**
 * Follows <stateDir>/applied-bundle.json. apply replaces it atomically (rename), so a
 * change shows as a new inode or mtime. An inotify watch on the directory (it survives the
 * rename, a watch on the file would not) picks a change up at once: in agent check mode the
 * daemon is asked by slot name only, so the sooner it knows a slot was re-addressed, the
 * shorter the time it answers for the slot's previous server. A stat every `pollMs` backs
 * the watch up (a directory created later, an inotify limit). A file that does not parse or whose content does not
 * hash to its sha256 is refused and the previous index stays (logged): the daemon never
 * probes a half-understood bundle.
 */
export class AppliedBundleWatcher {
  private index: BundleIndex = EMPTY_INDEX;
  private fingerprint = '';
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    readonly path: string,
    private readonly onChange: (index: BundleIndex) => void,
    private readonly log: HealthLogger,
    private readonly pollMs = 200,
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
        if (name === null || name === basename(this.path)) this.checkSoon();
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

  /** Re-read now if the file changed (also used by tests to avoid waiting for a poll). */
  async check(): Promise<void> {
    let fingerprint: string;
    try {
      const s = await stat(this.path);
      fingerprint = `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch (error) {
      fingerprint = `missing:${(error as NodeJS.ErrnoException).code}`;
    }
    if (fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;
    if (fingerprint.startsWith('missing:')) {
      // No applied bundle (yet): nothing to probe, every check fails as unknown.
      if (this.index !== EMPTY_INDEX)
        this.log.warn('applied bundle disappeared', { path: this.path });
      this.swap(EMPTY_INDEX);
      return;
    }
    try {
      const bundle = parseBundle(await readFile(this.path, 'utf8'));
      if (bundle.sha256 === this.index.sha256) return;
      this.swap(indexBundle(bundle));
      this.log.info('applied bundle loaded', {
        sha256: bundle.sha256,
        servers: this.index.servers.size,
        slots: this.index.slots.size,
      });
    } catch (error) {
      this.log.error('applied bundle refused; keeping the previous one', {
        path: this.path,
        error: (error as Error).message,
      });
    }
  }

  private swap(index: BundleIndex): void {
    this.index = index;
    this.onChange(index);
  }
}
