import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { Log } from '@aurora-haproxy/contract/log';
import {
  decideWriterPause,
  type PauseDecision,
  type PauseState,
  type WriterEndpointView,
} from './writer-pause';

/**
 * The side effects of writer-pause.ts: after every evaluation of the health monitor, decide
 * for each writer alias and send PgBouncer PAUSE / RESUME. Commands run one at a time, in
 * order; an alias with a command in flight is not decided again until it is answered. A
 * command that fails leaves the state as it was, so the next evaluation (every probe
 * interval) tries again: the same command at most once per `retryMs` per alias, another one
 * (a PAUSE after a failed RESUME) at once. A RESUME waits for the
 * runtime pushes in flight (`beforeResume`): the new writer's slot is UP in HAProxy first.
 */
export interface PauseConsole {
  /** true: answered; false: sent, the answer not awaited past the bound (still paused). */
  pause(alias: string, replyTimeoutMs: number): Promise<boolean>;
  /** false: nothing to resume (not paused, or no such alias). */
  resume(alias: string): Promise<boolean>;
}

export interface WriterPauseDeps {
  console: PauseConsole;
  views: () => Map<string, WriterEndpointView>;
  bundleSha: () => string | null;
  beforeResume: () => Promise<void>;
  log: Log;
  maxPauseMs: number;
  now?: () => number;
  /** How long a PAUSE's answer is awaited (the alias is paused either way). */
  pauseReplyTimeoutMs?: number;
  retryMs?: number;
}

export class WriterPauseAdapter {
  private readonly states = new Map<string, PauseState>();
  private readonly busy = new Set<string>();
  /** The last failed command per alias: the same one is not sent again within retryMs. */
  private readonly failed = new Map<string, { at: number; action: string }>();
  private chain: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private closed = false;
  /** Commands sent, for status and tests. */
  readonly sent: { alias: string; action: 'pause' | 'resume'; row: number; at: number }[] = [];

  constructor(private readonly deps: WriterPauseDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The state of one alias as this daemon set it (undefined: not seen yet). */
  stateOf(alias: string): PauseState | undefined {
    return this.states.get(alias);
  }

  evaluate(): void {
    if (this.closed) return;
    const now = this.now();
    const views = this.deps.views();
    const aliases = new Set([...views.keys(), ...this.states.keys()]);
    for (const alias of aliases) {
      if (this.busy.has(alias)) continue;
      const state = this.states.get(alias) ?? { kind: 'unknown' };
      const decision = decideWriterPause(
        views.get(alias),
        state,
        now,
        this.deps.maxPauseMs,
        this.deps.bundleSha(),
      );
      const failed = this.failed.get(alias);
      // A different command (a PAUSE after a failed start RESUME) goes at once.
      if (failed?.action === decision.action && now - failed.at < (this.deps.retryMs ?? 1_000)) {
        continue;
      }
      if (decision.action === 'none') {
        this.settle(alias, decision);
        continue;
      }
      this.busy.add(alias);
      this.chain = this.chain.then(() => this.send(alias, decision));
    }
  }

  /** Resolves once every command queued so far was answered (or failed). */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * Stop deciding, and RESUME every alias this daemon paused (a daemon stopped for good must
   * not leave clients parked; a killed one is covered by the RESUME at the next start).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    for (const [alias, state] of this.states) {
      if (state.kind !== 'paused') continue;
      try {
        await this.deps.console.resume(alias);
        this.deps.log.info('writer alias resumed', { alias, reason: 'daemon stopping' });
      } catch (error) {
        this.deps.log.warn('writer alias resume failed', {
          alias,
          error: errorMessage(error),
        });
      }
    }
  }

  private settle(alias: string, decision: PauseDecision): void {
    if (decision.next === undefined) this.states.delete(alias);
    else this.states.set(alias, decision.next);
  }

  private async send(alias: string, decision: PauseDecision): Promise<void> {
    const { log } = this.deps;
    try {
      if (decision.action === 'resume') {
        await this.deps.beforeResume();
        const resumed = await this.deps.console.resume(alias);
        log.info(resumed ? 'writer alias resumed' : 'writer alias was not paused', {
          alias,
          row: decision.row,
          reason: decision.reason,
        });
      } else {
        const answered = await this.deps.console.pause(
          alias,
          this.deps.pauseReplyTimeoutMs ?? 1_000,
        );
        log.info('writer alias paused', {
          alias,
          row: decision.row,
          reason: decision.reason,
          ...(answered ? {} : { note: 'PAUSE not answered yet: server connections still active' }),
        });
      }
      this.sent.push({
        alias,
        action: decision.action as 'pause' | 'resume',
        row: decision.row,
        at: this.now(),
      });
      this.failed.delete(alias);
      this.settle(alias, decision);
    } catch (error) {
      // State unchanged: the next evaluation after retryMs tries again.
      if (this.failed.get(alias)?.action !== decision.action) {
        log.warn(`writer alias ${decision.action} failed`, {
          alias,
          error: errorMessage(error),
        });
      }
      this.failed.set(alias, { at: this.now(), action: decision.action });
    } finally {
      this.busy.delete(alias);
    }
  }
}
