import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { instanceIdFromArn } from '@aurora-haproxy/contract/host-report';
import type { Log } from '@aurora-haproxy/contract/log';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type AgentConfig, haproxyRunFiles } from '../config';
import type { SlotVerdict } from '../health/health-monitor';
import type { WatchedSecretStatus } from '../secrets/status';
import { collectReport, runtimeApi } from './collect';
import { appendEmf, applyMetrics, type EmfContext } from './emf';
import { PgbouncerView } from './pgbouncer-view';
import { HostReporter } from './reporter';
import { HostReportWriter } from './writer';

/**
 * Wiring of the reporter from the agent config (the `serve` command starts it next to the
 * health daemon, which it reads the verdicts and the applied sha from).
 */
export interface RunningReporter {
  reporter: HostReporter;
  stop(): Promise<void>;
}

export function startHostReporter(
  config: AgentConfig,
  verdicts: { readonly sha256: string | null; snapshot(now: number): SlotVerdict[] },
  log: Log,
  secrets?: () => WatchedSecretStatus[],
): RunningReporter | undefined {
  const report = config.report;
  if (!report) return undefined;
  const client = new DynamoDBClient({
    ...(report.region ? { region: report.region } : {}),
    ...(report.endpoint ? { endpoint: report.endpoint } : {}),
    // One attempt more at most: the next sample retries anyway.
    maxAttempts: 2,
  });
  const pgbouncer = new PgbouncerView(config.pgbouncer.admin);
  const writer = new HostReportWriter(client, report.tableName, report.instanceArn);
  const reporter = new HostReporter(
    {
      collect: () =>
        collectReport({
          verdicts,
          haproxy: runtimeApi(haproxyRunFiles(config).statsSocket),
          pgbouncer,
          secrets,
          now: Date.now,
        }),
      write: (r) => writer.write(r),
      log,
      ...(report.metrics
        ? {
            metrics: {
              ctx: emfContext(config) as EmfContext,
              emfPath: report.metrics.emfPath,
              flushMs: report.metrics.flushMs,
              maxBytes: report.metrics.maxBytes,
            },
          }
        : {}),
    },
    report,
  );
  reporter.start();
  return {
    reporter,
    async stop() {
      await reporter.stop();
      await pgbouncer.close();
      client.destroy();
    },
  };
}

function emfContext(config: AgentConfig): EmfContext | undefined {
  const metrics = config.report?.metrics;
  if (!config.report || !metrics) return undefined;
  return {
    namespace: metrics.namespace,
    fleet: metrics.fleet,
    instanceId: instanceIdFromArn(config.report.instanceArn) ?? 'unknown',
  };
}

/** The apply / sync result as metrics, when the config asks for metrics (never throws). */
export function recordApplyMetrics(config: AgentConfig, result: AgentResult): void {
  const ctx = emfContext(config);
  const metrics = config.report?.metrics;
  if (!ctx || !metrics) return;
  try {
    appendEmf(metrics.emfPath, [applyMetrics(result, ctx, Date.now())], metrics.maxBytes);
  } catch (error) {
    process.stderr.write(`metrics file ${metrics.emfPath}: ${errorMessage(error)}\n`);
  }
}
