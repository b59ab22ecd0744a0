import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowFqdn } from '../../agent/haproxy/servers-state';
import { instanceEndpointName } from '../../packages/local-stack/endpoint-names';
import { waitFor } from '../../packages/local-stack/process/wait';
import { LocalStack } from '../../packages/local-stack/stack';
import { haproxyProcess, startReadLoad } from '../../packages/local-stack/stack-probes';
import { CLUSTER, readersUp, registerCluster, viaPgbouncer } from './support';

/**
 * Issue 9, item 5: an instance re-addressed behind its unchanged endpoint name (Aurora
 * replacing an instance's host). The stack starts a replica at another loopback address on
 * the instance's port, re-points the name in its DNS server, and RDS describes the same
 * instance, name and port: no bundle changes. Every host's HAProxy follows the name through
 * its resolvers (no reload), the health daemon's probe follows it too, and once the old node
 * goes away only what was in flight on it may fail.
 */
const BACKEND = `aurora-${CLUSTER}`;
const CLIENTS = 4;

describe('an instance re-addressed behind its endpoint name', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await LocalStack.start({
      clusters: [{ clusterId: CLUSTER, replicas: 2 }],
      instances: 2,
    });
    await registerCluster(stack);
    await readersUp(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('HAProxy follows with no reload; no read fails beyond those in flight on the old address', async () => {
    // Prepare
    const instances = stack.fleet.inService();
    const before = await Promise.all(instances.map((i) => haproxyProcess(i)));
    const sha = await stack.desiredSha();
    const reader = stack.cluster(CLUSTER).replicas()[0];
    if (!reader) throw new Error('no reader');
    const instanceId = stack.instanceIdOf(CLUSTER, reader.name) as string;
    const name = instanceEndpointName(instanceId);
    const address = `127.0.3.${10 + Math.floor(Math.random() * 200)}`;
    const loads = instances.map((i) => startReadLoad(viaPgbouncer(i), CLIENTS, { pauseMs: 5 }));
    await new Promise((r) => setTimeout(r, 1000));

    // Act: the replacement takes the name; every host's HAProxy and daemon follow it
    const { replaced, replacement, repointedAt } = await stack.readdressInstance(
      CLUSTER,
      instanceId,
      address,
    );
    const followMs = await Promise.all(
      instances.map((i) =>
        waitFor(
          `${i.instanceId}: HAProxy to follow ${name} to ${address}`,
          async () => {
            const rows = (await i.haproxy?.runtime.showServersState(BACKEND))?.rows ?? [];
            const row = rows.find((r) => rowFqdn(r) === name);
            return row?.address === address ? Date.now() - repointedAt : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 100 },
        ),
      ),
    );
    await waitFor(
      "every host's health daemon to probe the replacement",
      async () => {
        const r = await stack
          .cluster(CLUSTER)
          .query<{ n: number }>(
            replacement,
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'aurora-haproxy-health'",
          );
        return (r.rows[0]?.n ?? 0) >= instances.length;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // Errors are ordered by when they arrived: a read that started before this moment may still
    // be in flight on the old node when it goes away, and that one is allowed to fail.
    const retiringAt = Date.now();
    await stack.retireReplaced(CLUSTER, replaced);
    const retiredAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const samples = await Promise.all(loads.map((l) => l.stop()));

    // Assess
    const inFlight = samples.map(
      (host) => host.filter((s) => s.error && s.endedAt >= retiringAt).length,
    );
    console.log(
      `HAProxy followed the re-pointed name ${followMs.join(', ')} ms after the DNS server answered it; reads failed when the old node went away: ${inFlight.join(', ')} (of ${CLIENTS} clients per host)`,
    );
    expect(await stack.desiredSha()).toBe(sha);
    for (const [n, i] of instances.entries()) {
      const now = await haproxyProcess(i);
      expect.soft(now.reloads).toBe(before[n]?.reloads);
      expect.soft(now.workerPid).toBe(before[n]?.workerPid);
      const host = samples[n] ?? [];
      const errorsBeforeRetire = host.filter((s) => s.error && s.endedAt < retiringAt);
      const errorsAtRetire = host.filter((s) => s.error && s.endedAt >= retiringAt);
      const servedAfter = host.filter((s) => !s.error && s.at > retiredAt + 1000);
      expect.soft(errorsBeforeRetire.map((s) => s.error)).toEqual([]);
      // At most the one read each client had in flight on the old address.
      expect
        .soft(errorsAtRetire.length, JSON.stringify(errorsAtRetire))
        .toBeLessThanOrEqual(CLIENTS);
      expect.soft(servedAfter.length).toBeGreaterThan(0);
    }
    expect(stack.dns?.queriedNames()).toContain(name);
  });
});
