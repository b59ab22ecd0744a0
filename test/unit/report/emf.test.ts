import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendEmf, applyMetrics, HOST_METRICS, reportMetrics } from '../../../agent/report/emf';
import { report, slot } from './fixtures';

const CTX = { namespace: 'AuroraHAProxy', fleet: 'fleet-a', instanceId: 'i-0123456789abcdef0' };

function values(docs: ReturnType<typeof reportMetrics>['documents'], name: string) {
  return docs.filter((d) => name in d);
}

describe('reportMetrics (EMF documents of one report)', () => {
  it('emits the documented names and dimensions', () => {
    // Prepare
    const r = report({
      clusters: [
        {
          clusterId: 'orders',
          backend: 'aurora-orders',
          slots: [
            slot({ sessions: 6, checkFailures: 3 }),
            slot({ slot: 'r02', instanceId: 'orders-2', sessions: 2, checkFailures: 1 }),
            slot({ slot: 'w1', instanceId: 'orders-0', role: 'writer', state: 'DOWN' }),
          ],
        },
      ],
    });
    // Act
    const { documents, failureTotals } = reportMetrics(r, new Map([['orders', 1]]), CTX);
    // Assess
    for (const d of documents) {
      expect(d._aws.Timestamp).toBe(r.reportedAt);
      expect(d._aws.CloudWatchMetrics[0]?.Namespace).toBe('AuroraHAProxy');
      expect(d.Fleet).toBe('fleet-a');
      for (const dims of d._aws.CloudWatchMetrics[0]?.Dimensions ?? [])
        for (const dim of dims) expect(d[dim], dim).toBeTypeOf('string');
    }
    expect(values(documents, HOST_METRICS.readersUp)).toEqual([
      expect.objectContaining({ ClusterId: 'orders', InstanceId: CTX.instanceId, ReadersUp: 2 }),
    ]);
    expect(
      values(documents, HOST_METRICS.readerSessions).map((d) => [d.ReaderId, d.ReaderSessions]),
    ).toEqual([
      ['orders-1', 6],
      ['orders-2', 2],
    ]);
    // 4 failures now, 1 at the last flush: 3 new
    expect(values(documents, HOST_METRICS.checkFailures)[0]).toMatchObject({
      CheckFailures: 3,
      ReaderImbalance: 3,
    });
    expect(values(documents, HOST_METRICS.clustersWithoutReaderUp)[0]).toMatchObject({
      ClustersWithoutReaderUp: 0,
    });
    expect(failureTotals.get('orders')).toBe(4);
  });

  it('counts a cluster with no reader UP, and a counter reset (new worker) from zero', () => {
    const r = report({
      clusters: [
        {
          clusterId: 'orders',
          backend: 'aurora-orders',
          slots: [
            slot({ state: 'DOWN', checkFailures: 2 }),
            slot({ slot: 'w1', role: 'writer', state: 'UP' }),
          ],
        },
      ],
    });
    const { documents } = reportMetrics(r, new Map([['orders', 50]]), CTX);
    expect(
      values(documents, HOST_METRICS.clustersWithoutReaderUp)[0]?.ClustersWithoutReaderUp,
    ).toBe(1);
    expect(values(documents, HOST_METRICS.readersUp)[0]?.ReadersUp).toBe(0);
    expect(values(documents, HOST_METRICS.checkFailures)[0]?.CheckFailures).toBe(2);
  });

  it('apply results carry success, failure and duration', () => {
    const ok = applyMetrics(
      { ok: true, sha256: 'a'.repeat(64), action: 'runtime', durationMs: 42 },
      CTX,
      5,
    );
    const failed = applyMetrics(
      { ok: false, sha256: '', action: 'unchanged', durationMs: 7, error: 'x' },
      CTX,
      5,
    );
    expect(ok).toMatchObject({ ApplySucceeded: 1, ApplyFailed: 0, ApplyDuration: 42 });
    expect(failed).toMatchObject({ ApplySucceeded: 0, ApplyFailed: 1 });
    expect(ok._aws.CloudWatchMetrics[0]?.Metrics).toContainEqual({
      Name: 'ApplyDuration',
      Unit: 'Milliseconds',
    });
  });
});

describe('appendEmf', () => {
  it('appends one JSON line per document and rotates past maxBytes', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'emf-'));
    const path = join(dir, 'logs', 'metrics.emf');
    const doc = applyMetrics({ ok: true, sha256: '', action: 'unchanged', durationMs: 1 }, CTX, 1);
    // Act
    appendEmf(path, [doc, doc], 4096);
    // Assess
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).ApplySucceeded)).toEqual([1, 1]);
    writeFileSync(path, 'x'.repeat(5000));
    appendEmf(path, [doc], 4096);
    expect(statSync(`${path}.1`).size).toBe(5000);
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});
