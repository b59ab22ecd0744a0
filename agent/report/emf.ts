import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import { type HostReport, imbalanceRatio } from '@aurora-haproxy/contract/host-report';

/**
 * The hosts' CloudWatch metrics, as Embedded Metric Format lines appended to a file that the
 * CloudWatch agent ships to CloudWatch Logs (which turns them into metrics). Names and
 * dimensions (namespace AuroraHAProxy by default; every metric also has `Fleet` = the Auto
 * Scaling group name):
 *
 * | metric                  | unit         | dimensions                       | statistic to use      |
 * |-------------------------|--------------|----------------------------------|-----------------------|
 * | ReaderSessions          | Count        | Fleet, ClusterId, ReaderId       | Sum per 60 s = fleet  |
 * | ReadersUp               | Count        | Fleet, ClusterId, InstanceId     | Minimum               |
 * | CheckFailures           | Count        | Fleet, ClusterId                 | Sum (new failures)    |
 * | ReaderImbalance         | None         | Fleet, ClusterId                 | Maximum (per host)    |
 * | ClustersWithoutReaderUp | Count        | Fleet                            | Maximum               |
 * | ApplySucceeded          | Count        | Fleet                            | Sum                   |
 * | ApplyFailed             | Count        | Fleet                            | Sum                   |
 * | ApplyDuration           | Milliseconds | Fleet                            | Average / p99         |
 *
 * ReaderId is the Aurora instance, InstanceId the HAProxy host. Gauges are one value per host
 * per flush (60 s): ReaderSessions summed over a minute is the fleet's total to that reader.
 */
export const HOST_METRICS = {
  readerSessions: 'ReaderSessions',
  readersUp: 'ReadersUp',
  checkFailures: 'CheckFailures',
  readerImbalance: 'ReaderImbalance',
  clustersWithoutReaderUp: 'ClustersWithoutReaderUp',
  applySucceeded: 'ApplySucceeded',
  applyFailed: 'ApplyFailed',
  applyDuration: 'ApplyDuration',
} as const;

export interface EmfContext {
  namespace: string;
  fleet: string;
  /** This host. */
  instanceId: string;
}

type Unit = 'Count' | 'Milliseconds' | 'None';
export type EmfDocument = Record<string, unknown> & {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: Unit }[];
    }[];
  };
};

function document(
  ctx: EmfContext,
  timestamp: number,
  dimensions: Record<string, string>,
  metrics: Record<string, [number, Unit]>,
): EmfDocument {
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: ctx.namespace,
          Dimensions: [['Fleet', ...Object.keys(dimensions)]],
          Metrics: Object.entries(metrics).map(([Name, [, Unit]]) => ({ Name, Unit })),
        },
      ],
    },
    Fleet: ctx.fleet,
    ...dimensions,
    ...Object.fromEntries(Object.entries(metrics).map(([name, [value]]) => [name, value])),
  };
}

/**
 * The gauges of one report. `previousFailures` is the per-cluster check-failure total of the
 * last flush (HAProxy's counters only grow within a worker): CheckFailures is the increase,
 * and a lower total (a reload started a new worker) counts from zero.
 */
export function reportMetrics(
  report: HostReport,
  previousFailures: ReadonlyMap<string, number>,
  ctx: EmfContext,
): { documents: EmfDocument[]; failureTotals: Map<string, number> } {
  const t = report.reportedAt;
  const documents: EmfDocument[] = [];
  const failureTotals = new Map<string, number>();
  let withoutReaderUp = 0;
  for (const cluster of report.clusters) {
    const readers = cluster.slots.filter((s) => s.role !== 'writer');
    const up = readers.filter((s) => s.state === 'UP');
    if (up.length === 0) withoutReaderUp++;
    const total = cluster.slots.reduce((sum, s) => sum + s.checkFailures, 0);
    failureTotals.set(cluster.clusterId, total);
    const before = previousFailures.get(cluster.clusterId);
    const failures = before === undefined ? 0 : total >= before ? total - before : total;
    documents.push(
      document(
        ctx,
        t,
        { ClusterId: cluster.clusterId, InstanceId: ctx.instanceId },
        { [HOST_METRICS.readersUp]: [up.length, 'Count'] },
      ),
      document(
        ctx,
        t,
        { ClusterId: cluster.clusterId },
        {
          [HOST_METRICS.checkFailures]: [failures, 'Count'],
          [HOST_METRICS.readerImbalance]: [imbalanceRatio(up.map((s) => s.sessions)) ?? 1, 'None'],
        },
      ),
    );
    for (const slot of readers) {
      if (!slot.instanceId) continue;
      documents.push(
        document(
          ctx,
          t,
          { ClusterId: cluster.clusterId, ReaderId: slot.instanceId },
          { [HOST_METRICS.readerSessions]: [slot.sessions, 'Count'] },
        ),
      );
    }
  }
  documents.push(
    document(ctx, t, {}, { [HOST_METRICS.clustersWithoutReaderUp]: [withoutReaderUp, 'Count'] }),
  );
  return { documents, failureTotals };
}

/** One apply (or boot sync) result. */
export function applyMetrics(result: AgentResult, ctx: EmfContext, now: number): EmfDocument {
  return document(
    ctx,
    now,
    {},
    {
      [HOST_METRICS.applySucceeded]: [result.ok ? 1 : 0, 'Count'],
      [HOST_METRICS.applyFailed]: [result.ok ? 0 : 1, 'Count'],
      [HOST_METRICS.applyDuration]: [Math.max(0, result.durationMs), 'Milliseconds'],
    },
  );
}

/** Append documents, one JSON line each; past `maxBytes` the file moves to `<path>.1` first. */
export function appendEmf(path: string, documents: readonly EmfDocument[], maxBytes: number): void {
  if (documents.length === 0) return;
  mkdirSync(dirname(path), { recursive: true });
  try {
    if (statSync(path).size > maxBytes) renameSync(path, `${path}.1`);
  } catch {
    /* no file yet */
  }
  appendFileSync(path, `${documents.map((d) => JSON.stringify(d)).join('\n')}\n`, { mode: 0o644 });
}
