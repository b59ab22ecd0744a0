import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { HostReport } from '@aurora-haproxy/contract/host-report';
import type { Log } from '@aurora-haproxy/contract/log';
import { reportFingerprint, shouldWrite, type WriteClock, type WriteRate } from './decide';
import { appendEmf, type EmfContext, reportMetrics } from './emf';

/**
 * The reporting loop of the health daemon: sample every `sampleMs`, write when shouldWrite
 * says so (decide.ts), and every `metrics.flushMs` append the gauges of the latest sample to
 * the EMF file. One sample at a time (the next is scheduled when one ends), so a slow table
 * or socket never piles up work; a failure is logged once per kind of message and retried
 * at the bounded rate.
 */
export interface ReporterDeps {
  collect(): Promise<HostReport>;
  write(report: HostReport): Promise<void>;
  log: Log;
  now?: () => number;
  metrics?: { ctx: EmfContext; emfPath: string; flushMs: number; maxBytes: number };
}

export class HostReporter {
  private readonly clock: WriteClock = {};
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastError: string | undefined;
  private lastFlushAt: number | undefined;
  private failureTotals = new Map<string, number>();
  /** Writes done (for tests and the daemon's own status). */
  writes = 0;

  constructor(
    private readonly deps: ReporterDeps,
    private readonly rate: WriteRate & { sampleMs: number },
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sample now (the loop calls this; tests too). */
  async tick(): Promise<void> {
    const now = (this.deps.now ?? Date.now)();
    let report: HostReport;
    try {
      report = await this.deps.collect();
    } catch (error) {
      this.fail('collecting the host report failed', error);
      return;
    }
    this.flushMetrics(report, now);
    const fingerprint = reportFingerprint(report);
    if (!shouldWrite(this.clock, fingerprint, now, this.rate)) return;
    this.clock.lastAttemptAt = now;
    try {
      await this.deps.write(report);
      this.clock.lastWriteAt = now;
      this.clock.lastFingerprint = fingerprint;
      this.writes++;
      if (this.lastError) this.deps.log.info('host report written again');
      this.lastError = undefined;
    } catch (error) {
      this.fail('writing the host report failed', error);
    }
  }

  private flushMetrics(report: HostReport, now: number): void {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    if (this.lastFlushAt !== undefined && now - this.lastFlushAt < metrics.flushMs) return;
    this.lastFlushAt = now;
    try {
      const { documents, failureTotals } = reportMetrics(report, this.failureTotals, metrics.ctx);
      this.failureTotals = failureTotals;
      appendEmf(metrics.emfPath, documents, metrics.maxBytes);
    } catch (error) {
      this.fail('writing the metrics file failed', error);
    }
  }

  private fail(message: string, error: unknown): void {
    const text = `${message}: ${errorMessage(error)}`;
    if (text !== this.lastError) this.deps.log.warn(message, { error: errorMessage(error) });
    this.lastError = text;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.rate.sampleMs);
      });
    }, delayMs);
    this.timer.unref();
  }
}
