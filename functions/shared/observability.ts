import { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The two things core code needs to say what happened: a structured log and counters.
 * Core modules take these as dependencies (Powertools in Lambda, recorders in tests), so
 * no core module reaches for a global.
 */
export interface Log {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

export interface MetricSink {
  /** Add `value` (default 1) to the counter `name`. */
  count(name: string, value?: number): void;
}

export const METRICS_NAMESPACE = 'AuroraHAProxy';
export const SERVICE_NAME = 'aurora-haproxy';

export function createLogger(serviceName = SERVICE_NAME): Logger {
  // Powertools reads LOG_LEVEL / POWERTOOLS_LOG_LEVEL from the environment.
  return new Logger({ serviceName });
}

/** The Powertools logger seen through the Log interface (attributes become JSON keys). */
export function powertoolsLog(logger: Logger): Log {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, attributes?: Record<string, unknown>) =>
      attributes ? logger[level](message, attributes) : logger[level](message);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function powertoolsMetricSink(metrics: Metrics): MetricSink {
  return {
    count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
  };
}

/** A log that drops everything (tests that assert on results, not on logs). */
export const silentLog: Log = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

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

/** A log that keeps its entries, for tests that check a fault was logged. */
export class RecordingLog implements Log {
  readonly entries: { level: string; message: string; attributes?: Record<string, unknown> }[] = [];
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
}
