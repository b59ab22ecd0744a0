import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN } from '../../agent/haproxy/servers-state';
import type { FleetInstance } from '../../packages/local-stack/fleet';
import { LocalStack } from '../../packages/local-stack/stack';
import {
  countReads,
  type ReadSample,
  runPgbench,
  SLOW_READ_SQL,
  sampleReads,
  startReadLoad,
} from '../../packages/local-stack/stack-probes';
import {
  CLUSTER,
  fleetStatus,
  initPgbench,
  lastApply,
  nodesByPort,
  readersUp,
  registerCluster,
  viaPgbouncer,
} from './support';

/**
 * End-to-end on one stack (a simulated Aurora cluster with 2 readers, 2 simulated hosts):
 * issue tests 4 (one instance's apply fails: drift shown, re-delivered by the schedule),
 * 5 (RDS throttling / 500s: nothing removed, topology stale, recovery) and 2 (five failovers
 * under load, the old writer replaced by a new reader after each; destructive, so last).
 */
const BACKEND = `aurora-${CLUSTER}`;
/** Issue 10's goal: at least 5 failovers under load in one run. */
const FAILOVERS = 5;

/** Servers HAProxy has in service (not in maintenance) for the cluster, as addr:port. */
async function serversInService(instance: FleetInstance): Promise<string[]> {
  const dump = await instance.haproxy?.runtime.showServersState(BACKEND);
  return (
    (dump?.rows ?? [])
      // 0x40 only marks a name set through the runtime API (`set server … fqdn`).
      .filter((r) => r.backend === BACKEND && (r.adminState & ~ADMIN.fqdnFromCli) === 0)
      .map((r) => `${r.address}:${r.port}`)
      .sort()
  );
}

async function untilTrue(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  tick?: () => Promise<unknown>,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick?.();
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Scheduled reconciles until every host runs the desired bundle (after a faulty test). */
async function healed(stack: LocalStack): Promise<void> {
  await untilTrue(
    'the fleet to converge',
    async () => {
      const desired = await stack.desiredSha();
      return [...stack.appliedShas().values()].every((sha) => sha === desired);
    },
    60_000,
    () => stack.reconcileNow(),
  );
}

describe('faults and failover (one stack)', () => {
  let stack: LocalStack;
  let instances: FleetInstance[];

  beforeAll(async () => {
    stack = await LocalStack.start({
      clusters: [{ clusterId: CLUSTER, replicas: 2 }],
      instances: 2,
    });
    await initPgbench(stack);
    await registerCluster(stack);
    instances = [...stack.fleet.inService()];
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('4. one instance fails to apply: the other converges, status shows the drift, the schedule re-delivers once fixed', async () => {
    // Prepare: the second host's HAProxy is down
    const [healthy, broken] = instances as [FleetInstance, FleetInstance];
    const before = await stack.desiredSha();
    await stack.fleet.stopHaproxy(broken.instanceId);
    try {
      // Act: a topology change (new reader) is delivered to both
      await stack.addReader(CLUSTER);
      await untilTrue(
        'the healthy host to apply and the broken one to fail',
        async () => {
          const desired = await stack.desiredSha();
          return (
            desired !== before &&
            stack.appliedShas().get(healthy.instanceId) === desired &&
            lastApply(broken).ok === false
          );
        },
        30_000,
      );
      const desired = await stack.desiredSha();
      // The status reads the SSM invocations: the failed one ends when the agent process exits.
      let drifting = await fleetStatus(stack);
      await untilTrue(
        'the status to show the failed invocation',
        async () => {
          drifting = await fleetStatus(stack);
          return !drifting.instances.some((i) => i.state === 'pending');
        },
        15_000,
      );

      // Assess: drift shown for the broken host only
      expect(stack.appliedShas().get(broken.instanceId)).toBe(before);
      const byId = new Map(drifting.instances.map((i) => [i.instanceId, i]));
      expect(byId.get(healthy.instanceId)).toMatchObject({ state: 'in-sync', drift: false });
      expect(byId.get(broken.instanceId)?.drift).toBe(true);
      expect(drifting.desired?.sha256).toBe(desired);

      // Act: fix the host; the scheduled reconcile re-delivers
      await stack.fleet.startHaproxy(broken.instanceId);
      await untilTrue(
        'the fixed host to converge through the schedule',
        async () => stack.appliedShas().get(broken.instanceId) === desired,
        60_000,
        () => stack.reconcileNow(),
      );

      // Assess
      const healed = await fleetStatus(stack);
      expect(healed.instances.map((i) => [i.instanceId, i.drift])).toEqual(
        instances.map((i) => [i.instanceId, false]),
      );
    } finally {
      // Whatever happened above, the next tests start from a healthy fleet.
      await stack.fleet.startHaproxy(broken.instanceId);
    }
  });

  it('5. RDS throttling and 500s remove no server anywhere, mark the topology stale, and recover', async () => {
    // Prepare
    await healed(stack);
    const servedBefore = await Promise.all(instances.map(serversInService));
    expect(servedBefore[0]?.length).toBeGreaterThan(0);

    // Act: throttled, then 500s, for every RDS call of a reconcile
    stack.rds.faults.set({ kind: 'throttle', forMs: 120_000 });
    const throttled = await stack.reconcileNow();
    stack.rds.faults.set({ kind: 'internal', forMs: 120_000 });
    const failing = await stack.reconcileNow();
    await stack.waitForConvergence();
    const servedDuring = await Promise.all(instances.map(serversInService));
    const statusDuring = await fleetStatus(stack);
    stack.rds.faults.clear();
    const recovered = await stack.reconcileNow();
    await stack.waitForConvergence();
    const statusAfter = await fleetStatus(stack);

    // Assess
    for (const run of [throttled, failing]) {
      expect(run.error).toBeUndefined();
      expect((run.result as { staleClusters: string[] }).staleClusters).toEqual([CLUSTER]);
    }
    expect(servedDuring).toEqual(servedBefore);
    expect(statusDuring.clusters.find((c) => c.clusterId === CLUSTER)?.topology).toBe('stale');
    expect((recovered.result as { staleClusters: string[] }).staleClusters).toEqual([]);
    expect(statusAfter.clusters.find((c) => c.clusterId === CLUSTER)?.topology).toBe('ok');
    expect(await Promise.all(instances.map(serversInService))).toEqual(servedBefore);
  });

  it(`2. ${FAILOVERS} failovers under pgbench -S in one run: no read on the new writer 1 s after any promotion, clients recover, every instance converges`, async () => {
    await healed(stack);
    for (let round = 1; round <= FAILOVERS; round++) {
      const { oldWriter } = await failoverUnderLoad(`failover ${round} of ${FAILOVERS}`);
      if (round === FAILOVERS) break;
      // As Aurora brings a failed writer back as a reader: the old node goes, a new reader joins.
      await stack.removeReader(CLUSTER, oldWriter);
      await stack.addReader(CLUSTER);
      await healed(stack);
      await readersUp(stack);
    }
  });

  /**
   * One failover with pooled read loads and pgbench -S running on every host; soft assertions
   * named by `round`. The promoted reader is the one answering the load, so it has sessions.
   */
  async function failoverUnderLoad(round: string): Promise<{ oldWriter: string }> {
    // Prepare: pooled server connections on every reader, load running, pgbench running
    for (const i of instances) await sampleReads(viaPgbouncer(i), 64, 16);
    const loads = instances.map((i) =>
      startReadLoad(viaPgbouncer(i), 8, { sql: SLOW_READ_SQL, pauseMs: 0 }),
    );
    const benches = instances.map((i) =>
      // Through the promotion (~1.5 s in) and the convergence (2.5-4.6 s after it, measured).
      runPgbench({ ...viaPgbouncer(i), user: 'postgres' }, { clients: 2, seconds: 6 }),
    );
    await new Promise((r) => setTimeout(r, 800));
    const before = await stack.desiredSha();
    const ports = nodesByPort(stack);
    const warm = countReads(await sampleReads(viaPgbouncer(instances[0] as FleetInstance), 16, 4));
    const busiest = [...warm.byPort].sort((a, b) => b[1] - a[1])[0]?.[0];
    const target = stack
      .cluster(CLUSTER)
      .nodes()
      .find((n) => n.port === busiest && n.role === 'replica')?.name;

    // Act
    const failover = await stack.failover(CLUSTER, target);
    const newWriterPort = [...ports].find(([, id]) => id === failover.newWriter)?.[0];
    await stack.waitForConvergence({ not: before, timeoutMs: 60_000 });
    const convergedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const samples: ReadSample[] = (await Promise.all(loads.map((l) => l.stop()))).flat();
    const benchResults = await Promise.all(benches);

    // Assess
    const late = samples.filter((s) => s.at > failover.promotedAt + 1000 && s.error === undefined);
    const onWriter = late.filter((s) => s.inRecovery === false || s.serverPort === newWriterPort);
    const since = (s: ReadSample | undefined) => (s ? `+${s.at - failover.promotedAt} ms` : '-');
    console.log(
      `[${round}] ${failover.oldWriter} -> ${failover.newWriter}: ${late.length} reads started over 1 s after the promotion, ${onWriter.length} on the writer; converged +${convergedAt - failover.promotedAt} ms`,
    );
    expect
      .soft(
        onWriter.length,
        `${round}: reads answered by the new writer ${failover.newWriter} more than 1 s after promotion (first ${since(onWriter[0])}, last ${since(onWriter.at(-1))}, of ${late.length}; converged +${convergedAt - failover.promotedAt} ms)`,
      )
      .toBe(0);
    const afterConvergence = samples.filter((s) => s.at > convergedAt + 500);
    expect.soft(afterConvergence.length, `${round}: reads after convergence`).toBeGreaterThan(0);
    expect
      .soft(
        afterConvergence.filter((s) => s.error !== undefined).length,
        `${round}: read errors after convergence`,
      )
      .toBe(0);
    const desired = await stack.desiredSha();
    expect
      .soft([...stack.appliedShas().values()], `${round}: every instance on the desired bundle`)
      .toEqual(instances.map(() => desired));
    for (const r of benchResults)
      expect.soft(r.transactions, `${round}: ${r.output}`).toBeGreaterThan(0);
    return { oldWriter: failover.oldWriter };
  }
});
