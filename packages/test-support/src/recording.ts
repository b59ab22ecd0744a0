import type { Log } from '@aurora-haproxy/contract/log';
import type { MetricSink } from '../../../functions/shared/observability';

type Entry = { level: string; message: string; attributes?: Record<string, unknown> };

/** A Log that keeps its entries, for tests that check what was (or was not) logged. */
export class RecordingLog implements Log {
  readonly entries: Entry[] = [];
  debug(message: string, attributes?: Record<string, unknown>) {
    this.entries.push({ level: 'debug', message, attributes });
  }
  info(message: string, attributes?: Record<string, unknown>) {
    this.entries.push({ level: 'info', message, attributes });
  }
  warn(message: string, attributes?: Record<string, unknown>) {
    this.entries.push({ level: 'warn', message, attributes });
  }
  error(message: string, attributes?: Record<string, unknown>) {
    this.entries.push({ level: 'error', message, attributes });
  }
  /** Every entry as the JSON line a daemon would write (tests grep them for secrets). */
  get lines(): string[] {
    return this.entries.map((e) =>
      JSON.stringify({ level: e.level, message: e.message, ...e.attributes }),
    );
  }
  /** The messages logged at `level`. */
  messages(level: string): string[] {
    return this.entries.filter((e) => e.level === level).map((e) => e.message);
  }
}

/** Counters kept in memory, for tests to assert on. */
export class RecordingMetrics implements MetricSink {
  readonly counts = new Map<string, number>();
  count(name: string, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }
}
