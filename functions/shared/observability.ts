import type { Log } from '@aurora-haproxy/contract/log';
import { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The two things core code needs to say what happened: a structured log (the project's one
 * `Log`, from the contract package) and counters. Core modules take these as dependencies
 * (Powertools in Lambda, recorders in tests), so no core module reaches for a global.
 */
export type { Log } from '@aurora-haproxy/contract/log';
export { silentLog } from '@aurora-haproxy/contract/log';

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
