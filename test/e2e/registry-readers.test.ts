import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowFqdn } from '../../agent/haproxy/servers-state';
import { instanceEndpointName } from '../../packages/local-stack/endpoint-names';
import { APP_DATABASE, FLEET_ASG_NAME, LocalStack } from '../../packages/local-stack/stack';
import {
  countReads,
  haproxyProcess,
  runPgbench,
  sampleReads,
} from '../../packages/local-stack/stack-probes';
import {
  CLUSTER,
  initPgbench,
  lastApply,
  readerPorts,
  readersUp,
  registerCluster,
  viaPgbouncer,
} from './support';

/**
 * End-to-end on one stack (DynamoDB Local, a simulated Aurora cluster with 3 readers, the
 * stand-ins, 2 simulated HAProxy hosts): issue tests 1 (registry edit -> same sha everywhere,
 * reads only on readers), 7 (pooled balance), 3 (reader scale-out and scale-in under pgbench,
 * through the runtime path) and 6 (a joining instance syncs before serving).
 */

describe('registry, readers, scaling and a joining instance (one stack)', () => {
  let stack: LocalStack;
  /** The cluster's HAProxy port (registered in test 1). */
  let port = 0;

  beforeAll(async () => {
    stack = await LocalStack.start({
      clusters: [{ clusterId: CLUSTER, replicas: 3 }],
      instances: 2,
    });
    await initPgbench(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('1. a registry edit reaches every instance as the same sha; reads land only on readers', async () => {
    // Act
    port = await registerCluster(stack);

    // Assess
    const desired = await stack.desiredSha();
    expect(desired).toMatch(/^[a-f0-9]{64}$/);
    const applied = stack.appliedShas();
    expect(applied.size).toBe(2);
    expect([...applied.values()]).toEqual([desired, desired]);
    for (const instance of stack.fleet.inService()) {
      const counts = countReads(await sampleReads(viaPgbouncer(instance), 100, 8));
      expect(counts.errors).toBe(0);
      expect(counts.fromWriter).toBe(0);
      expect([...counts.byPort.keys()].sort((a, b) => a - b)).toEqual(readerPorts(stack));
    }
  });

  it('7. pooled balance: 60 PgBouncer server connections over 3 readers, max/min <= 1.2', async () => {
    // Prepare: 30 clients per host, each holding a transaction (so a server connection each)
    const clients: pg.Client[] = [];
    for (const instance of stack.fleet.inService()) {
      for (let i = 0; i < 30; i++) {
        const target = viaPgbouncer(instance);
        const client = new pg.Client({ ...target, user: 'postgres' });
        client.on('error', () => undefined);
        clients.push(client);
      }
    }
    try {
      await Promise.all(clients.map((c) => c.connect()));
      await Promise.all(clients.map((c) => c.query('BEGIN').then(() => c.query('SELECT 1'))));

      // Act: count the application's server connections on each reader
      const cluster = stack.cluster(CLUSTER);
      const perReader: number[] = [];
      for (const reader of cluster.replicas()) {
        const result = await cluster.query<{ n: string }>(
          reader.name,
          "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
          [APP_DATABASE],
        );
        perReader.push(Number(result.rows[0]?.n));
      }

      // Assess
      expect(perReader.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(60);
      expect(Math.min(...perReader)).toBeGreaterThan(0);
      expect(Math.max(...perReader) / Math.min(...perReader)).toBeLessThanOrEqual(1.2);
    } finally {
      await Promise.all(
        clients.map((c) =>
          c
            .query('COMMIT')
            .catch(() => undefined)
            .then(() => c.end()),
        ),
      );
    }
  });

  it('3. reader scale-out and scale-in by DNS name go through the runtime path (fqdn): 0 reloads, 0 failed pgbench transactions', async () => {
    // Prepare
    const instances = stack.fleet.inService();
    const before = new Map(
      await Promise.all(
        instances.map(async (i) => [i.instanceId, await haproxyProcess(i)] as const),
      ),
    );
    const sha0 = await stack.desiredSha();
    const benches = instances.map((i) =>
      runPgbench({ ...viaPgbouncer(i), user: 'postgres' }, { clients: 4, seconds: 14 }),
    );
    await new Promise((r) => setTimeout(r, 1000));

    // Act: scale out, then scale in (the instance is `deleting` first, as in Aurora)
    const added = await stack.addReader(CLUSTER);
    const sha1 = await stack.waitForConvergence({ not: sha0 });
    await readersUp(stack);
    const outActions = instances.map((i) => lastApply(i).action);
    // Through the DNS path: the new reader's slot follows its endpoint name (`set server …
    // fqdn`), asked of the stack's DNS server.
    const addedName = instanceEndpointName(added);
    const followsName = await Promise.all(
      instances.map(async (i) =>
        ((await i.haproxy?.runtime.showServersState(`aurora-${CLUSTER}`))?.rows ?? []).some(
          (r) => rowFqdn(r) === addedName,
        ),
      ),
    );
    // New connections through each host's HAProxy listener: the new reader takes its share.
    const addedOnEveryHost = await Promise.all(
      instances.map(async (i) =>
        countReads(
          await sampleReads(
            {
              host: i.host.listenAddress,
              port,
              database: APP_DATABASE,
              // HAProxy passes the node's TLS through: the chain is checked, not the name.
              ssl: stack.cluster(CLUSTER).sslThroughProxy(),
            },
            48,
            16,
          ),
        ),
      ),
    );
    await stack.removeReader(CLUSTER, added, { drainFirst: true });
    // The "DB instance deleted" event's reconcile runs after removeReader returns: wait for it
    // (and the fleet applying it), or the next test's desired bundle changes under it.
    await stack.functions.idle();
    const sha2 = await stack.waitForConvergence({ not: sha1 });
    const inActions = instances.map((i) => lastApply(i).action);
    const results = await Promise.all(benches);

    // Assess
    expect.soft(sha2).not.toBe(sha1);
    expect.soft(outActions).toEqual(['runtime', 'runtime']);
    expect.soft(followsName).toEqual([true, true]);
    expect.soft(stack.dns?.queriedNames()).toContain(addedName);
    expect.soft(inActions).toEqual(['runtime', 'runtime']);
    // the new reader took reads on every host (4 readers answered)
    for (const counts of addedOnEveryHost) {
      expect.soft(counts.byPort.size, JSON.stringify([...counts.byPort])).toBe(4);
    }
    for (const i of instances) {
      const now = await haproxyProcess(i);
      expect.soft(now.reloads).toBe(before.get(i.instanceId)?.reloads);
      expect.soft(now.workerPid).toBe(before.get(i.instanceId)?.workerPid);
    }
    for (const r of results) {
      expect.soft(r.code, r.output).toBe(0);
      expect.soft(r.transactions).toBeGreaterThan(0);
      expect.soft(r.failed, r.output).toBe(0);
    }
  });

  it('6. a new instance joining the fleet syncs the current bundle before serving', async () => {
    // Prepare
    const desired = await stack.desiredSha();

    // Act
    const joined = await stack.fleet.addInstance();

    // Assess: the boot sync applied the desired bundle before HAProxy/PgBouncer started
    expect(joined.bootSync).toMatchObject({ ok: true, sha256: desired });
    expect(stack.appliedShas().get(joined.instanceId)).toBe(desired);
    await readersUp(stack);
    const counts = countReads(await sampleReads(viaPgbouncer(joined), 60, 8));
    expect(counts.errors).toBe(0);
    expect(counts.fromWriter).toBe(0);
    expect([...counts.byPort.keys()].sort((a, b) => a - b)).toEqual(readerPorts(stack));
    const autoscaling = new AutoScalingClient({});
    const group = await autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [FLEET_ASG_NAME] }),
    );
    autoscaling.destroy();
    expect(group.AutoScalingGroups?.[0]?.Instances?.map((i) => i.LifecycleState)).toEqual([
      'InService',
      'InService',
      'InService',
    ]);
    await stack.fleet.removeInstance(joined.instanceId);
  });

  it('a second cluster is served on its own port and alias, next to the first', async () => {
    // Prepare: another simulated Aurora cluster, described by the RDS stand-in
    await stack.addSimulatedCluster({ clusterId: 'billing', replicas: 1 });
    const ordersPorts = readerPorts(stack);

    // Act
    await registerCluster(stack, 'billing', 'bills');

    // Assess: each alias reaches only its own cluster's readers, on every host
    for (const instance of stack.fleet.inService()) {
      const billSamples = await sampleReads(viaPgbouncer(instance, 'bills'), 30, 4);
      const orderSamples = await sampleReads(viaPgbouncer(instance, 'orders'), 30, 4);
      const bills = countReads(billSamples);
      const orders = countReads(orderSamples);
      const errors = [...billSamples, ...orderSamples].flatMap((s) => s.error ?? []);
      expect(bills.errors + orders.errors, `${instance.instanceId}: ${errors.join('; ')}`).toBe(0);
      expect(bills.fromWriter + orders.fromWriter).toBe(0);
      expect([...bills.byPort.keys()]).toEqual(readerPorts(stack, 'billing'));
      expect([...orders.byPort.keys()].every((p) => ordersPorts.includes(p))).toBe(true);
    }
  });
});
