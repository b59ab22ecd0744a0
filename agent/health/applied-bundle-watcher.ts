import { readFile, stat } from 'node:fs/promises';
import { parseBundle } from '../../functions/contracts/bundle';
import { type BundleIndex, EMPTY_INDEX, indexBundle } from './bundle-index';
import type { HealthLogger } from './log';

/**
 * Follows <stateDir>/applied-bundle.json. apply replaces it atomically (rename), so a
 * change shows as a new inode or mtime; a stat every `pollMs` is cheap and, unlike inotify
 * on the file, survives the rename. A file that does not parse or whose content does not
 * hash to its sha256 is refused and the previous index stays (logged): the daemon never
 * probes a half-understood bundle.
 */
export class AppliedBundleWatcher {
  private index: BundleIndex = EMPTY_INDEX;
  private fingerprint = '';
  private timer: NodeJS.Timeout | undefined;
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
    this.timer = setInterval(() => {
      this.reading ??= this.check().finally(() => {
        this.reading = undefined;
      });
    }, this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
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
