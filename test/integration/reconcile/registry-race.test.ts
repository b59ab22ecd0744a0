import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbBundleSource } from '../../../agent/bundle-source/dynamodb';
import { reconcile } from '../../../functions/reconcile/reconcile';
import { DesiredPointerStore } from '../../../functions/state/desired-pointer';
import { corruptBundle, gate, type ReconcileBench, reconcileBench } from './support';

/**
 * Issue 10.5: the compare-and-swap alone serializes reconciles. Two runs race with
 * different registry views on a real DynamoDB Local table: run A lists the registry before
 * a new cluster is published by run B; A must not swap its older view over B's pointer.
 */
const TABLE = 'reconcile-registry-race';
const ADMIN = { kind: 'admin', reason: 'test' } as const;
let bench: ReconcileBench;

const ddb = useDynamoDbLocal(TABLE);
beforeAll(async () => {
  bench = reconcileBench(ddb().client(), TABLE);
  bench.truth.set('orders', ['orders-1', 'orders-2', 'orders-3']);
  bench.truth.set('billing', ['billing-1', 'billing-2']);
  await bench.addCluster('orders', 15432);
  await reconcile(bench.deps().deps, ADMIN);
});

describe('a corrupted desired bundle (issue 10.4)', () => {
  it('is stored again under the same sha when reconcile renders that sha', async () => {
    // Prepare: the first bundle's item is overwritten with bytes that are not gzip
    const desired = await new DesiredPointerStore(ddb().client(), TABLE).read();
    const sha = desired?.sha256 as string;
    await corruptBundle(ddb().client(), TABLE, sha);
    const agentSource = new DynamoDbBundleSource(ddb().client(), TABLE);
    await expect(agentSource.getBundle(sha)).rejects.toThrow();

    // Act
    const summary = await reconcile(bench.deps().deps, ADMIN);

    // Assess: the same sha, readable again by the agents (re-delivery and boot sync work)
    expect(summary).toMatchObject({ sha256: sha, changed: false, repairedDesired: true });
    expect((await agentSource.getBundle(sha)).sha256).toBe(sha);
  });
});

describe('two reconciles with different registry views', () => {
  it('the run that listed the registry before a newer publish never drops the new cluster', async () => {
    // Prepare: run A lists the registry (only orders) and is held right after
    const a = bench.deps().deps;
    const listed = gate();
    const release = gate();
    const realList = a.registry.list.bind(a.registry);
    let first = true;
    a.registry = {
      list: async () => {
        const clusters = await realList();
        if (first) {
          first = false;
          listed.open();
          await release.opened;
        }
        return clusters;
      },
    };
    const sentBefore = bench.ssm.commandCalls(SendCommandCommand).length;
    const runA = reconcile(a, ADMIN);
    await listed.opened;

    // Act: billing is registered and run B publishes it; then A goes on with its older view
    await bench.addCluster('billing', 15433);
    const b = await reconcile(bench.deps().deps, ADMIN);
    expect(b.changed).toBe(true);
    expect(await bench.served('billing')).toEqual(['billing-2']);
    release.open();
    const summaryA = await runA;

    // Assess: the desired bundle still serves billing; A did not publish its older view
    expect(await bench.served('billing')).toEqual(['billing-2']);
    expect(await bench.served('orders')).toEqual(['orders-2', 'orders-3']);
    expect(summaryA).toMatchObject({ sha256: b.sha256, changed: false, delivered: 0 });
    // A sent nothing: only B's delivery reached the fleet, with B's sha.
    const sent = bench.ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.Parameters);
    expect(sent.at(-1)).toEqual({ sha256: [b.sha256] });
    expect(sent.filter((p) => p?.sha256?.[0] !== b.sha256).length).toBe(sentBefore);
  });
});
