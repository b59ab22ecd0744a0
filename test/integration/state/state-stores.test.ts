import { type Bundle, sealBundle } from '@aurora-haproxy/contract/bundle';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleStore } from '../../../functions/state/bundle-store';
import { DeliveryRecords } from '../../../functions/state/delivery-records';
import { DesiredPointerStore } from '../../../functions/state/desired-pointer';
import { DesiredPointerConflictError } from '../../../functions/state/errors';
import { ReconcileMarkStore } from '../../../functions/state/reconcile-mark';
import { TopologyCache } from '../../../functions/state/topology-cache';

const TABLE = 'state-test';

const ddb = useDynamoDbLocal(TABLE);

function bundle(marker: string): Bundle {
  return sealBundle(
    {
      schema: 1,
      structureSha256: 'c'.repeat(64),
      files: { haproxy: `global\n  # ${marker}\n`, pgbouncerDatabases: '' },
      clusters: [],
    },
    new Date('2026-11-26T09:00:00Z'),
  );
}

function topology(clusterId: string, members: number): ClusterTopology {
  return {
    clusterId,
    status: 'available',
    engine: 'aurora-postgresql',
    members: Array.from({ length: members }, (_, i) => ({
      instanceId: `${clusterId}-${i + 1}`,
      address: `${clusterId}-${i + 1}.c9akciq32.eu-west-1.rds.amazonaws.com`,
      port: 5432,
      isWriter: i === 0,
      status: 'available',
      instanceClass: 'db.r6g.large',
      az: 'eu-west-1a',
    })),
    observedAt: '2026-11-26T09:00:00.000Z',
    stale: false,
  };
}

describe('BundleStore', () => {
  it('stores a bundle once, content-addressed, and reads it back verified', async () => {
    // Prepare
    const store = new BundleStore(ddb().client(), TABLE);
    const b = bundle('one');

    // Act
    const first = await store.put(b);
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => store.put(b)));
    const read = await store.get(b.sha256);

    // Assess
    expect(first).toBe('stored');
    expect(concurrent.every((r) => r === 'existed')).toBe(true);
    expect(read).toEqual(b);
    expect(await store.get('d'.repeat(64))).toBeUndefined();
  });
});

describe('DesiredPointerStore', () => {
  it('moves only with the version read: of 20 concurrent swaps exactly one wins', async () => {
    // Prepare
    const pointer = new DesiredPointerStore(ddb().client(), TABLE);
    expect(await pointer.read()).toBeUndefined();
    const first = await pointer.swap(undefined, 'a'.repeat(64), new Date());

    // Act
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        pointer.swap(first.version, i.toString(16).padStart(64, 'e'), new Date()),
      ),
    );

    // Assess
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.every((r) => r.reason instanceof DesiredPointerConflictError)).toBe(true);
    const current = await pointer.read();
    expect(current?.version).toBe(2);
    expect(current?.sha256).toBe(
      (won[0] as PromiseFulfilledResult<{ sha256: string }>).value.sha256,
    );
    await expect(pointer.swap(undefined, 'f'.repeat(64), new Date())).rejects.toBeInstanceOf(
      DesiredPointerConflictError,
    );
  });
});

describe('TopologyCache', () => {
  it('keeps the last good topology when a problem is recorded, and reads many at once', async () => {
    // Prepare
    const cache = new TopologyCache(ddb().client(), TABLE);
    const ids = Array.from({ length: 130 }, (_, i) => `c${i}`);
    for (const id of ids) await cache.saveGood(topology(id, 2));

    // Act
    await cache.recordProblem('c7', {
      ok: false,
      problem: 'ThrottlingException',
      at: '2026-11-26T09:05:00Z',
    });
    const read = await cache.getMany([...ids, 'never-seen']);

    // Assess
    expect(read.size).toBe(130);
    expect(read.get('c7')?.topology?.members).toHaveLength(2);
    expect(read.get('c7')?.observation).toEqual({
      ok: false,
      problem: 'ThrottlingException',
      at: '2026-11-26T09:05:00Z',
    });
    expect(read.get('c8')?.observation?.ok).toBe(true);
    expect(read.has('never-seen')).toBe(false);
  });

  it('records a problem for a cluster never observed without inventing a topology', async () => {
    const cache = new TopologyCache(ddb().client(), TABLE);
    await cache.recordProblem('ghost', {
      ok: false,
      notFound: true,
      problem: 'not found',
      at: '2026-11-26T09:05:00Z',
    });
    const read = await cache.getMany(['ghost']);
    expect(read.get('ghost')).toEqual({
      observation: { ok: false, notFound: true, problem: 'not found', at: '2026-11-26T09:05:00Z' },
    });
  });
});

describe('ReconcileMarkStore', () => {
  it('only moves forward', async () => {
    const mark = new ReconcileMarkStore(ddb().client(), TABLE);
    expect(await mark.read()).toBeUndefined();
    await mark.advance(new Date('2026-11-26T09:00:10.000Z'));
    await mark.advance(new Date('2026-11-26T09:00:05.000Z'));
    expect(await mark.read()).toBe('2026-11-26T09:00:10.000Z');
    await mark.advance(new Date('2026-11-26T09:00:11.000Z'));
    expect(await mark.read()).toBe('2026-11-26T09:00:11.000Z');
  });
});

describe('DeliveryRecords', () => {
  const commandId = '0b1f6b5e-0000-4000-8000-000000000001';
  const command = (sha256: string, id = commandId) => ({
    commandId: id,
    sha256,
    instanceIds: ['i-01', 'i-02'],
    requestedAt: '2026-11-26T09:00:00Z',
    reason: 'new-desired',
  });

  it('records commands and the per-instance delivery state of the desired sha', async () => {
    // Prepare
    const records = new DeliveryRecords(ddb().client(), TABLE);
    const pointer = new DesiredPointerStore(ddb().client(), TABLE);
    const sha = 'a'.repeat(64);
    const current = await pointer.read();
    await pointer.swap(current?.version, sha, new Date());

    // Act
    const result = await records.record([command(sha)], {
      sha256: sha,
      updatedAt: '2026-11-26T09:00:00Z',
      instances: { 'i-01': commandId, 'i-02': commandId },
    });

    // Assess
    expect(result).toBe('recorded');
    expect(await records.readState()).toMatchObject({
      sha256: sha,
      instances: { 'i-01': commandId },
    });
    expect(await records.getCommand(commandId)).toMatchObject({ instanceIds: ['i-01', 'i-02'] });
    const partition = await ddb()
      .client()
      .send(
        new QueryCommand({
          TableName: TABLE,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: 'DELIVERY' } },
        }),
      );
    expect(partition.Items?.map((i) => i.sk?.S).sort()).toEqual([commandId, 'LATEST']);
  });

  it('never overwrites the delivery state with a sha that is no longer desired', async () => {
    // Prepare: the pointer names sha a (previous test); a slow run delivered sha b
    const records = new DeliveryRecords(ddb().client(), TABLE);
    const old = 'b'.repeat(64);
    const before = await records.readState();

    // Act
    const replaced = await records.record([command(old, 'c-old-1')], {
      sha256: old,
      updatedAt: '2026-11-26T09:01:00Z',
      instances: { 'i-01': 'c-old-1' },
    });
    const merged = await records.record(
      [command(old, 'c-old-2')],
      { sha256: old, updatedAt: '2026-11-26T09:01:00Z', instances: { 'i-01': 'c-old-2' } },
      { merge: true },
    );

    // Assess
    expect([replaced, merged]).toEqual(['superseded', 'superseded']);
    expect(await records.readState()).toEqual(before);
    expect(await records.getCommand('c-old-1')).toMatchObject({ sha256: old });
  });
});
