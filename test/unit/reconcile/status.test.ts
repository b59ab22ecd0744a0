import {
  agentLine,
  invocation,
  MemoryDeliveryRecords,
} from '@aurora-haproxy/test-support/aws-fixtures';
import { MemoryTopologyCache } from '@aurora-haproxy/test-support/rds-fixtures';
import { ListCommandInvocationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { readStatus, type StatusDeps } from '../../../functions/reconcile/status';
import { silentLog } from '../../../functions/shared/observability';
import { MemoryPointer, MemoryRegistry, registryCluster } from './fakes';

const ssmMock = mockClient(SSMClient);
const SHA = 'a'.repeat(64);

function deps() {
  const cache = new MemoryTopologyCache();
  const pointer = new MemoryPointer();
  const records = new MemoryDeliveryRecords();
  const d: StatusDeps = {
    registry: new MemoryRegistry([
      registryCluster('orders', 15432),
      registryCluster('billing', 15433),
      registryCluster('legacy', 15434),
      registryCluster('fresh', 15435),
    ]),
    pointer,
    topologyCache: cache,
    records,
    ssm: new SSMClient({ region: 'eu-west-1' }),
    log: silentLog,
  };
  return { deps: d, cache, pointer, records };
}

beforeEach(() => ssmMock.reset());

describe('readStatus', () => {
  it('reports the desired sha, each instance against it, and each cluster topology state', async () => {
    // Prepare
    const { deps: d, cache, pointer, records } = deps();
    pointer.item = { sha256: SHA, version: 3, updatedAt: '2026-11-26T09:00:00.000Z' };
    records.state = {
      sha256: SHA,
      updatedAt: '2026-11-26T09:00:01.000Z',
      instances: { 'i-01': 'c-1', 'i-02': 'c-1', 'i-03': 'c-1' },
    };
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation('c-1', 'i-01', 'Success', agentLine(SHA)),
        invocation('c-1', 'i-02', 'InProgress', ''),
        invocation('c-1', 'i-03', 'Failed', agentLine(SHA, false, 'rollback', 'haproxy -c failed')),
      ],
    });
    cache.entries.set('orders', { observation: { ok: true, at: '2026-11-26T09:00:00.000Z' } });
    cache.entries.set('billing', {
      observation: { ok: false, problem: 'ThrottlingException', at: '2026-11-26T09:00:00.000Z' },
    });
    cache.entries.set('legacy', {
      observation: {
        ok: false,
        notFound: true,
        problem: 'not found',
        at: '2026-11-26T09:00:00.000Z',
      },
    });

    // Act
    const status = await readStatus(d);

    // Assess
    expect(status.desired?.sha256).toBe(SHA);
    expect(status.instances).toEqual([
      {
        instanceId: 'i-01',
        state: 'in-sync',
        drift: false,
        appliedSha256: SHA,
        action: 'runtime',
        commandId: 'c-1',
        invocationStatus: 'Success',
      },
      {
        instanceId: 'i-02',
        state: 'pending',
        drift: false,
        commandId: 'c-1',
        invocationStatus: 'InProgress',
      },
      {
        instanceId: 'i-03',
        state: 'failed',
        drift: true,
        appliedSha256: SHA,
        action: 'rollback',
        commandId: 'c-1',
        invocationStatus: 'Failed',
        error: 'haproxy -c failed',
      },
    ]);
    expect(status.staleClusters).toEqual(['billing']);
    expect(status.notFoundClusters).toEqual(['legacy']);
    expect(status.clusters.find((c) => c.clusterId === 'fresh')?.topology).toBe('unknown');
    expect(ssmMock.commandCalls(ListCommandInvocationsCommand)).toHaveLength(1);
  });

  it('reports an empty system without calling SSM', async () => {
    const { deps: d } = deps();
    const status = await readStatus(d);
    expect(status).toMatchObject({ desired: null, delivery: null, instances: [] });
    expect(ssmMock.calls()).toHaveLength(0);
  });
});
