import { keys } from '@aurora-haproxy/contract/table';
import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { awsError, dbCluster, dbInstance } from '@aurora-haproxy/test-support/rds-fixtures';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
} from '@aws-sdk/client-rds';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApplyDeps } from '../../../agent/apply/apply';
import { syncDesired } from '../../../agent/apply/sync';
import { DynamoDbBundleSource } from '../../../agent/bundle-source/dynamodb';
import { reconcile } from '../../../functions/reconcile/reconcile';
import { readStatus } from '../../../functions/reconcile/status';
import { DesiredPointerStore } from '../../../functions/state/desired-pointer';
import { corruptBundle, type ReconcileBench, reconcileBench, truthfulRds } from './support';

/**
 * Issues 10.3, 10.4, 16.4 and the reliability goal "≥ 100 reconciles under randomized RDS
 * faults → 0 servers dropped by a fault", on a real DynamoDB Local table (registry, bundles,
 * pointer, topology cache, delivery records); RDS answers in the documented shapes.
 */
const TABLE = 'reconcile-rds-faults';
const SCHEDULE = { kind: 'schedule' } as const;
let bench: ReconcileBench;

/** Deterministic pseudo-random numbers (mulberry32): a failing run can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Answer = (input: { Filters?: { Values?: string[] }[] }) => unknown;
/** Replace RDS's answers (both operations) for the next calls. */
function rdsAnswers(clusters: Answer, instances: Answer) {
  bench.rds.reset();
  bench.rds.on(DescribeDBClustersCommand).callsFake(clusters as never);
  bench.rds.on(DescribeDBInstancesCommand).callsFake(instances as never);
}

function truthful() {
  const t = truthfulRds(bench.truth);
  rdsAnswers(
    (input) => ({ DBClusters: t.clustersOf(t.filterValues(input)) }),
    (input) => ({ DBInstances: t.instancesOf(t.filterValues(input)) }),
  );
}

/** Readers RDS has now for a cluster (the first member is the writer). */
const truthReaders = (clusterId: string) => (bench.truth.get(clusterId) ?? []).slice(1).sort();

async function putCache(clusterId: string, item: Record<string, { S: string }>) {
  await ddb()
    .client()
    .send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk: { S: keys.topology(clusterId).pk },
          sk: { S: 'LAST' },
          clusterId: { S: clusterId },
          ...item,
        },
      }),
    );
}

const ddb = useDynamoDbLocal(TABLE);
beforeAll(async () => {
  bench = reconcileBench(ddb().client(), TABLE);
});

describe('before anything is registered', () => {
  it('the boot sync says "nothing registered yet" and succeeds (issue 13.5)', async () => {
    // Act: the agent's real DynamoDB source on the empty table; nothing may be applied
    const result = await syncDesired(
      {} as ApplyDeps,
      new DynamoDbBundleSource(ddb().client(), TABLE),
    );

    // Assess
    expect(result).toMatchObject({ ok: true, sha256: '', action: 'unchanged' });
    expect(result.note).toMatch(/nothing registered yet/);
  });
});

describe('RDS faults and odd answers', () => {
  it('serves two clusters', async () => {
    bench.truth.set('orders', ['orders-1', 'orders-2', 'orders-3']);
    bench.truth.set('billing', ['billing-1', 'billing-2']);
    await bench.addCluster('orders', 15432);
    await bench.addCluster('billing', 15433);
    truthful();
    const summary = await reconcile(bench.deps().deps, SCHEDULE);
    expect(summary.changed).toBe(true);
    expect(await bench.served('orders')).toEqual(['orders-2', 'orders-3']);
  });

  it.each([
    ['not JSON', { topology: { S: '{not json' } }],
    [
      'a valid topology with no members',
      {
        topology: {
          S: JSON.stringify({
            clusterId: 'orders',
            status: 'available',
            engine: 'aurora-postgresql',
            members: [],
            observedAt: '2026-11-26T09:00:00.000Z',
            stale: false,
          }),
        },
      },
    ],
    ['absent', undefined],
  ])(
    'a topology-cache entry %s plus an RDS fault removes no server (issue 10.3)',
    async (_, item) => {
      // Prepare: the cache entry of orders is damaged; then RDS throttles everything
      if (item) await putCache('orders', item);
      else
        await ddb()
          .client()
          .send(
            new DeleteItemCommand({
              TableName: TABLE,
              Key: { pk: { S: keys.topology('orders').pk }, sk: { S: 'LAST' } },
            }),
          );
      const throttled = () => {
        throw awsError('Throttling', 'Rate exceeded', 400);
      };
      rdsAnswers(throttled, throttled);

      // Act
      const summary = await reconcile(bench.deps().deps, SCHEDULE);

      // Assess
      expect(summary.staleClusters).toEqual(['billing', 'orders']);
      expect(await bench.served('orders')).toEqual(['orders-2', 'orders-3']);
      expect(await bench.served('billing')).toEqual(['billing-2']);
      truthful();
      await reconcile(bench.deps().deps, SCHEDULE);
    },
  );

  it.each([
    ['names the writer twice (once as a reader)', 'twice'],
    ['has more than 99 readers', 'do not fit'],
  ])(
    'a cluster whose RDS answer %s stays on its servers; the other cluster is served (issue 16.4)',
    async (what, problem) => {
      // Prepare: billing gets a new reader; orders' answer is odd
      bench.truth.set('billing', ['billing-1', 'billing-2', 'billing-3']);
      const t = truthfulRds(bench.truth);
      const many = Array.from({ length: 120 }, (_, i) => `orders-x${i}`);
      const ordersMembers = what.includes('twice')
        ? [
            { id: 'orders-1', writer: true },
            { id: 'orders-2', writer: false },
            { id: 'orders-3', writer: false },
            { id: 'orders-1', writer: false },
          ]
        : [{ id: 'orders-1', writer: true }, ...many.map((id) => ({ id, writer: false }))];
      const extra = what.includes('twice') ? [] : many.map((id) => dbInstance(id, 'orders'));
      rdsAnswers(
        (input) => ({
          DBClusters: t
            .clustersOf(t.filterValues(input))
            .map((c: DBCluster) =>
              c.DBClusterIdentifier === 'orders' ? dbCluster('orders', ordersMembers) : c,
            ),
        }),
        (input) => ({
          DBInstances: [...t.instancesOf(t.filterValues(input)), ...extra] as DBInstance[],
        }),
      );

      // Act
      const summary = await reconcile(bench.deps().deps, SCHEDULE);
      const status = await readStatus(bench.deps().status);

      // Assess
      expect(await bench.served('billing')).toEqual(['billing-2', 'billing-3']);
      expect(await bench.served('orders')).toEqual(['orders-2', 'orders-3']);
      expect(summary.staleClusters).toContain('orders');
      const orders = status.clusters.find((c) => c.clusterId === 'orders');
      expect(orders?.topology).toBe('stale');
      expect(orders?.problem).toContain(problem);
      expect(status.clusters.find((c) => c.clusterId === 'billing')?.topology).toBe('ok');
      bench.truth.set('billing', ['billing-1', 'billing-2']);
      truthful();
      await reconcile(bench.deps().deps, SCHEDULE);
    },
  );

  it('a corrupted desired bundle heals: the pointer names a readable bundle again (issue 10.4)', async () => {
    // Prepare: a new bundle is published, then its item is corrupted before anyone reads it
    bench.truth.set('orders', ['orders-1', 'orders-2', 'orders-3', 'orders-4']);
    truthful();
    const published = await reconcile(bench.deps().deps, SCHEDULE);
    expect(published.changed).toBe(true);
    await corruptBundle(ddb().client(), TABLE, published.sha256 as string);
    const agentSource = new DynamoDbBundleSource(ddb().client(), TABLE);
    await expect(agentSource.getBundle(published.sha256 as string)).rejects.toThrow();

    // Act
    const summary = await reconcile(bench.deps().deps, SCHEDULE);

    // Assess: stored again (same sha) or replaced by a new bundle; either way readable
    expect(summary.repairedDesired === true || summary.changed).toBe(true);
    const desired = await new DesiredPointerStore(ddb().client(), TABLE).read();
    expect((await agentSource.getBundle(desired?.sha256 as string)).sha256).toBe(desired?.sha256);
    expect(await bench.served('orders')).toEqual(['orders-2', 'orders-3', 'orders-4']);
  });

  it('≥ 100 reconciles under randomized RDS faults drop 0 servers, then converge', async () => {
    // Prepare
    const seed = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const RUNS = 120;
    const clusters = ['orders', 'billing'];
    let nextReader = 10;
    const tally: Record<string, number> = {};
    const count = (kind: string) => {
      tally[kind] = (tally[kind] ?? 0) + 1;
    };
    const dropped: string[] = [];

    for (let run = 0; run < RUNS; run++) {
      // Real changes now and then, so a fault is not hidden by a topology that never moves
      if (random() < 0.15) {
        const clusterId = pick(clusters);
        const members = [...(bench.truth.get(clusterId) ?? [])];
        const change = pick(['add', 'remove', 'failover']);
        if (change === 'add' || members.length < 3) members.push(`${clusterId}-${nextReader++}`);
        else if (change === 'remove')
          members.splice(1 + Math.floor(random() * (members.length - 1)), 1);
        else members.push(...members.splice(0, 1));
        bench.truth.set(clusterId, members);
        count(`change:${change}`);
      }
      // Damage the topology cache of a cluster
      if (random() < 0.2) {
        const clusterId = pick(clusters);
        const damage = pick(['garbage', 'empty-members', 'delete', 'bad-observation']);
        count(`cache:${damage}`);
        if (damage === 'delete')
          await ddb()
            .client()
            .send(
              new DeleteItemCommand({
                TableName: TABLE,
                Key: { pk: { S: keys.topology(clusterId).pk }, sk: { S: 'LAST' } },
              }),
            );
        else if (damage === 'garbage') await putCache(clusterId, { topology: { S: '\u0000{' } });
        else if (damage === 'bad-observation')
          await putCache(clusterId, { observation: { S: 'x' } });
        else
          await putCache(clusterId, {
            topology: {
              S: JSON.stringify({
                clusterId,
                status: 'available',
                engine: 'aurora-postgresql',
                members: [],
                observedAt: new Date().toISOString(),
                stale: false,
              }),
            },
          });
      }
      // The fault (or none) for this run, per operation
      const t = truthfulRds(bench.truth);
      const fault = random() < 0.6 ? pick(['throttle', '5xx', 'timeout', 'malformed']) : 'none';
      count(`rds:${fault}`);
      const failWith = (op: 'c' | 'i') => {
        if (fault === 'none' || fault === 'malformed') return undefined;
        if (random() < 0.3 && op === 'i') return undefined;
        if (fault === 'throttle') return awsError('Throttling', 'Rate exceeded', 400);
        if (fault === '5xx') return awsError('InternalFailure', 'An internal error occurred', 500);
        return Object.assign(new Error('socket hang up after 5000 ms'), { name: 'TimeoutError' });
      };
      const mangle = pick([
        'address',
        'no-writer-flag',
        'writer-twice',
        'partial-instances',
        'many-readers',
        'status',
      ]);
      const victim = pick(clusters);
      rdsAnswers(
        (input) => {
          const error = failWith('c');
          if (error) throw error;
          const answer = t.clustersOf(t.filterValues(input));
          if (fault !== 'malformed') return { DBClusters: answer };
          return {
            DBClusters: answer.map((c: DBCluster) => {
              if (c.DBClusterIdentifier !== victim) return c;
              const members = c.DBClusterMembers ?? [];
              if (mangle === 'no-writer-flag')
                return {
                  ...c,
                  DBClusterMembers: members.map((m) => ({ ...m, IsClusterWriter: undefined })),
                };
              if (mangle === 'writer-twice')
                return {
                  ...c,
                  DBClusterMembers: [...members, { ...members[0], IsClusterWriter: false }],
                };
              if (mangle === 'many-readers')
                return {
                  ...c,
                  DBClusterMembers: [
                    ...members,
                    ...Array.from({ length: 110 }, (_, i) => ({
                      DBInstanceIdentifier: `${victim}-m${i}`,
                      IsClusterWriter: false,
                    })),
                  ],
                };
              return c;
            }),
          };
        },
        (input) => {
          const error = failWith('i');
          if (error) throw error;
          let answer: DBInstance[] = t.instancesOf(t.filterValues(input));
          if (fault === 'malformed') {
            if (mangle === 'address')
              answer = answer.map((i) =>
                i.DBClusterIdentifier === victim
                  ? { ...i, Endpoint: { Address: 'x\n  server evil 1.2.3.4:5432', Port: 5432 } }
                  : i,
              );
            if (mangle === 'status')
              answer = answer.map((i) =>
                i.DBClusterIdentifier === victim
                  ? { ...i, DBInstanceStatus: 'available; reboot' }
                  : i,
              );
            if (mangle === 'partial-instances')
              answer = answer.filter((i) => i.DBClusterIdentifier !== victim || random() < 0.3);
            if (mangle === 'many-readers')
              answer = [
                ...answer,
                ...Array.from({ length: 110 }, (_, i) => dbInstance(`${victim}-m${i}`, victim)),
              ];
          }
          return { DBInstances: answer };
        },
      );
      if (fault === 'malformed') count(`malformed:${mangle}`);
      const before = new Map(
        await Promise.all(clusters.map(async (c) => [c, await bench.served(c)] as const)),
      );

      // Act
      await reconcile(bench.deps().deps, SCHEDULE);

      // Assess: a server is gone only if RDS really no longer has it as a reader
      for (const clusterId of clusters) {
        const after = new Set(await bench.served(clusterId));
        const readers = new Set(truthReaders(clusterId));
        for (const id of before.get(clusterId) ?? []) {
          if (!after.has(id) && readers.has(id))
            dropped.push(
              `run ${run} (${fault}${fault === 'malformed' ? `:${mangle}` : ''}): ${clusterId}/${id}`,
            );
        }
        const bundle = await bench.desiredBundle();
        expect(bundle?.files.haproxy, `run ${run}`).not.toContain('evil');
      }
    }
    console.log(`soak seed ${seed}: ${RUNS} reconciles; ${JSON.stringify(tally)}`);

    // Assess: no server dropped by a fault, and with RDS healthy again every cluster is exact
    expect(dropped, `seed ${seed}`).toEqual([]);
    truthful();
    await reconcile(bench.deps().deps, SCHEDULE);
    await reconcile(bench.deps().deps, SCHEDULE);
    for (const clusterId of clusters) {
      expect(await bench.served(clusterId), `seed ${seed} ${clusterId}`).toEqual(
        truthReaders(clusterId),
      );
    }
    expect(
      Object.entries(tally).filter(([k]) => k.startsWith('rds:') && k !== 'rds:none').length,
    ).toBe(4);
  });
});
