import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { Log } from '@aurora-haproxy/contract/log';
import { nextPollDelay, type VersionState, versionAction } from './decide';
import { SecretFormatError } from './errors';
import type { SecretSource } from './source';
import type { WatchedSecretName, WatchedSecretStatus } from './status';

/**
 * Follows one Secrets Manager secret by polling: every `intervalMs` +-25% it reads the
 * current version (one GetSecretValue); a new VersionId is parsed, and only a value that
 * parses is handed to `apply`. A version that does not parse changes nothing: the last good
 * value stays in use and the status says why (once in the log per version). A failed apply
 * is retried at the next poll. Reads never overlap; `pollSoon` asks for an early poll (after
 * an authentication failure), at most one per `minGapMs`.
 *
 * Why polling and not an EventBridge rule on the rotation event (docs/DESIGN.md): CloudTrail
 * delivers Secrets Manager's API events to EventBridge best-effort, often minutes late, while
 * a poll bounds the pickup by its interval, needs no new IAM (hosts may already read their
 * secrets), and heals a host that was down or booting when the secret changed.
 */
export interface SecretWatcherOptions<T> {
  name: WatchedSecretName;
  source: SecretSource;
  parse(text: string | undefined): T;
  /** Put a parsed value in use; `first` on the first value this process reads. */
  apply(value: T, versionId: string, first: boolean): Promise<void>;
  intervalMs: number;
  log: Log;
  jitter?: number;
  minGapMs?: number;
  now?: () => number;
  random?: () => number;
}

export class SecretWatcher<T> {
  private readonly state: VersionState = { appliedVersionId: null };
  private appliedAt: number | null = null;
  private checkedAt: number | null = null;
  private error: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private lastPollAt = 0;
  /** GetSecretValue calls made (the bench counts them). */
  reads = 0;

  constructor(private readonly options: SecretWatcherOptions<T>) {}

  get secretId(): string {
    return this.options.source.secretId;
  }

  /**
   * Poll now, then on the interval. Resolves after the first poll and never rejects (serve
   * starts it without awaiting): a failed first poll is the secret's status, as any later one.
   */
  async start(): Promise<void> {
    this.stopped = false;
    await this.pollInBackground();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  status(): WatchedSecretStatus {
    return {
      name: this.options.name,
      secretId: this.secretId,
      versionId: this.state.appliedVersionId,
      appliedAt: this.appliedAt,
      checkedAt: this.checkedAt,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** One poll; joins the one in flight. */
  pollNow(): Promise<void> {
    this.polling ??= this.poll().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  /** An early poll (e.g. a server refused the credential), no more than one per minGapMs. */
  pollSoon(): void {
    const now = (this.options.now ?? Date.now)();
    if (this.stopped || now - this.lastPollAt < (this.options.minGapMs ?? 5_000)) return;
    void this.pollInBackground();
  }

  /**
   * A poll nobody awaits: an unexpected error (a bug, not a refused version) becomes this
   * secret's status, not a crash. Its message is withheld: it was thrown with the secret's
   * text in scope and may quote it, and the status goes to logs and `clusters status`.
   */
  private pollInBackground(): Promise<void> {
    return this.pollNow().catch((error: unknown) => {
      const kind = error instanceof Error ? error.name : typeof error;
      this.fail(`unexpected ${kind} while reading the secret (message withheld)`);
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = nextPollDelay(
      this.options.intervalMs,
      this.options.jitter ?? 0.25,
      (this.options.random ?? Math.random)(),
    );
    this.timer = setTimeout(() => {
      void this.pollInBackground().finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const now = this.options.now ?? Date.now;
    this.lastPollAt = now();
    const { log, name } = this.options;
    let version: Awaited<ReturnType<SecretSource['read']>>;
    try {
      this.reads++;
      version = await this.options.source.read();
    } catch (error) {
      this.checkedAt = now();
      this.fail(errorMessage(error));
      return;
    }
    this.checkedAt = now();
    const action = versionAction(this.state, version.versionId);
    if (action === 'unchanged') {
      this.recover();
      return;
    }
    if (action === 'refused') return;
    // The reason first: `clusters status` cuts its lines at 80 columns.
    const where = `version ${version.versionId} of ${this.secretId}`;
    let value: T;
    try {
      value = this.options.parse(version.text);
    } catch (error) {
      if (!(error instanceof SecretFormatError)) throw error;
      this.state.refusedVersionId = version.versionId;
      this.fail(`${error.message}; ${where} refused, last good version kept`);
      return;
    }
    const first = this.state.appliedVersionId === null;
    try {
      await this.options.apply(value, version.versionId, first);
    } catch (error) {
      this.fail(`${errorMessage(error)}; ${where} not in use yet`);
      return;
    }
    this.state.appliedVersionId = version.versionId;
    this.state.refusedVersionId = undefined;
    this.appliedAt = now();
    this.error = undefined;
    log.info('secret version in use', {
      secret: name,
      secretId: this.secretId,
      versionId: version.versionId,
    });
  }

  private fail(message: string): void {
    const text = message.replace(/\s+/g, ' ').slice(0, 200);
    if (text !== this.error) {
      this.options.log.warn('secret not updated', { secret: this.options.name, error: text });
    }
    this.error = text;
  }

  private recover(): void {
    if (this.error === undefined) return;
    this.options.log.info('secret readable again', { secret: this.options.name });
    this.error = undefined;
  }
}
