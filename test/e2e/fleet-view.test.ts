import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminSuccess } from '../../functions/admin/result';
import type { FleetView } from '../../functions/fleet-view/view';
import { emfPathOf } from '../../packages/local-stack/fleet';
import { instanceIdFor } from '../../packages/local-stack/rds-standin/simulated-nodes';
import { FLEET_ASG_NAME, LocalStack } from '../../packages/local-stack/stack';
import { CLUSTER, registerCluster, viaPgbouncer } from './support';

/**
 * End-to-end on one stack (a simulated Aurora cluster with 2 readers, 2 simulated hosts whose
 * daemons report to the host reports table in DynamoDB Local): issue 13 items 1-3. The
 * status matrix shows a stopped reader DOWN with its reason on every host within 5 s; a host
 * whose agent stops reporting shows as stale; the hosts' EMF metrics carry the documented
 * names and dimensions.
 */
const STALE_MS = 8_000;

async function view(stack: LocalStack, clusterId = CLUSTER): Promise<FleetView> {
  const run = await stack.cli(['--json', 'clusters', 'status', clusterId]);
  expect(run.code, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout) as Extract<AdminSuccess, { action: 'status' }>;
  if (!result.view) throw new Error(`status has no fleet view: ${run.stdout.slice(0, 300)}`);
  return result.view;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (${String(last ?? '')})`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface EmfLine {
  _aws: {
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
  };
  [key: string]: unknown;
}

describe('fleet view: host reports, clusters status, metrics (one stack)', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await LocalStack.start({
      clusters: [{ clusterId: CLUSTER, replicas: 2 }],
      instances: 2,
      hostReportStaleMs: STALE_MS,
    });
    await registerCluster(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('shows every reader UP on every host, with versions, sha and sessions', async () => {
    // Prepare: 3 pooled sessions through host 1
    const [first] = stack.fleet.inService();
    if (!first) throw new Error('no instance');
    const clients = [0, 1, 2].map(
      () => new pg.Client({ ...viaPgbouncer(first), user: 'postgres' }),
    );
    for (const c of clients) c.on('error', () => undefined);
    try {
      await Promise.all(clients.map((c) => c.connect().then(() => c.query('BEGIN'))));
      const hosts = stack.fleet.inService().map((i) => i.instanceId);
      const readers = stack
        .cluster(CLUSTER)
        .replicas()
        .map((r) => instanceIdFor(CLUSTER, r.name))
        .sort();

      // Act (a host's slots can show UP from the pending slot map before its applied sha is
      // written, so the applied sha is part of what is waited for. Reports are periodic: one
      // sampled while the third client waited for its server login shows 3 HAProxy sessions
      // but 2 active clients (seen in CI), so the 3 clients are waited for too)
      const desired = await stack.desiredSha();
      const seen = await until(
        'both readers UP on both hosts, 3 sessions, 3 clients on host 1 and the desired sha reported',
        async () => {
          const v = await view(stack);
          const cluster = v.clusters[0];
          const up = cluster?.readers.filter(
            (r) => r.role === 'reader' && hosts.every((h) => r.cells[h]?.state === 'UP'),
          );
          const applied = v.hosts.every((h) => h.appliedSha256 === desired);
          const clientsOnFirst = v.hosts.find((h) => h.instanceId === first.instanceId)?.pools
            ?.clientsActive;
          return up?.length === 2 && cluster?.sessions === 3 && clientsOnFirst === 3 && applied
            ? v
            : undefined;
        },
        20_000,
      );

      // Assess
      const cluster = seen.clusters[0];
      expect(
        cluster?.readers
          .filter((r) => r.role === 'reader')
          .map((r) => r.instanceId)
          .sort(),
      ).toEqual(readers);
      expect(cluster?.hostsWithoutReaderUp).toEqual([]);
      expect(cluster?.imbalance).toBeGreaterThanOrEqual(1);
      expect(seen.staleHosts).toEqual([]);
      for (const host of seen.hosts) {
        expect(host.appliedSha256).toBe(desired);
        expect(host.haproxyVersion).toMatch(/^\d+\.\d+\.\d+/);
        expect(host.pgbouncerVersion).toMatch(/\d+\.\d+\.\d+/);
        expect(host.stale).toBe(false);
      }
      const firstHost = seen.hosts.find((h) => h.instanceId === first.instanceId);
      expect(firstHost?.pools?.clientsActive).toBe(3);
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    }
  });

  it('a stopped reader shows DOWN with its reason on every host within 5 s', async () => {
    // Prepare
    const cluster = stack.cluster(CLUSTER);
    const victim = cluster.replicas()[0];
    if (!victim) throw new Error('no replica');
    const readerId = instanceIdFor(CLUSTER, victim.name);
    const hosts = stack.fleet.inService().map((i) => i.instanceId);

    // Act
    const stoppedAt = Date.now();
    await cluster.stopNode(victim.name);
    const v = await until(
      `${readerId} DOWN on every host`,
      async () => {
        const seen = await view(stack);
        const row = seen.clusters[0]?.readers.find((r) => r.instanceId === readerId);
        return row && hosts.every((h) => row.cells[h]?.state === 'DOWN') ? seen : undefined;
      },
      15_000,
    );
    const elapsedMs = Date.now() - stoppedAt;

    // Assess
    console.log(`stopped reader DOWN in the status matrix of every host after ${elapsedMs} ms`);
    expect(elapsedMs).toBeLessThanOrEqual(5_000);
    const row = v.clusters[0]?.readers.find((r) => r.instanceId === readerId);
    for (const h of hosts) expect(row?.cells[h]?.reason).toMatch(/unreachable|stale|DOWN|haproxy/i);
    const text = await stack.cli(['clusters', 'status', CLUSTER]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('DOWN');
    expect(text.stdout).toContain(readerId);
    for (const line of text.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });

  it('the hosts emit the documented metrics as EMF lines', async () => {
    // Act: the local fleet flushes gauges every 5 s
    const [first] = stack.fleet.inService();
    if (!first) throw new Error('no instance');
    const lines = await until(
      'ReadersUp, ReaderSessions and ApplySucceeded in the EMF file',
      async () => {
        const parsed = readFileSync(emfPathOf(first), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as EmfLine);
        const names = new Set(
          parsed.flatMap((l) =>
            l._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => m.Name)),
          ),
        );
        // The reader stopped in the test before: wait for a flush that has seen it.
        const latestUp = parsed.filter((l) => 'ReadersUp' in l).at(-1);
        return ['ReadersUp', 'ReaderSessions', 'ApplySucceeded', 'ClustersWithoutReaderUp'].every(
          (n) => names.has(n),
        ) && latestUp?.ReadersUp === 1
          ? parsed
          : undefined;
      },
      15_000,
    );

    // Assess: names, dimensions, namespace
    const dims = (name: string) =>
      lines
        .flatMap((l) => l._aws.CloudWatchMetrics)
        .filter((d) => d.Metrics.some((m) => m.Name === name))
        .map((d) => d.Dimensions[0]);
    expect(dims('ReadersUp')[0]).toEqual(['Fleet', 'ClusterId', 'InstanceId']);
    expect(dims('ReaderSessions')[0]).toEqual(['Fleet', 'ClusterId', 'ReaderId']);
    expect(dims('CheckFailures')[0]).toEqual(['Fleet', 'ClusterId']);
    expect(dims('ReaderImbalance')[0]).toEqual(['Fleet', 'ClusterId']);
    expect(dims('ClustersWithoutReaderUp')[0]).toEqual(['Fleet']);
    expect(dims('ApplyDuration')[0]).toEqual(['Fleet']);
    for (const l of lines) {
      expect(l._aws.CloudWatchMetrics[0]?.Namespace).toBe('AuroraHAProxy');
      expect(l.Fleet).toBe(FLEET_ASG_NAME);
    }
    const readersUp = lines.filter((l) => 'ReadersUp' in l);
    expect(readersUp.at(-1)).toMatchObject({ ClusterId: CLUSTER, InstanceId: first.instanceId });
    // One reader stopped in the test before: the latest gauge says 1 reader UP.
    expect(readersUp.at(-1)?.ReadersUp).toBe(1);
  });

  it('a host whose agent stops reporting shows as stale, never as current', async () => {
    // Prepare
    const [, second] = stack.fleet.inService();
    if (!second) throw new Error('need 2 instances');

    // Act
    await stack.fleet.stopDaemon(second.instanceId);
    const v = await until(
      `${second.instanceId} stale`,
      async () => {
        const seen = await view(stack);
        return seen.staleHosts.includes(second.instanceId) ? seen : undefined;
      },
      STALE_MS + 10_000,
    );

    // Assess
    const host = v.hosts.find((h) => h.instanceId === second.instanceId);
    expect(host?.stale).toBe(true);
    expect(host?.ageMs).toBeGreaterThan(STALE_MS);
    for (const row of v.clusters[0]?.readers ?? []) {
      expect(row.cells[second.instanceId]?.state).toBe('STALE');
    }
    expect(v.clusters[0]?.readersUp[second.instanceId]).toBeUndefined();
    const text = await stack.cli(['clusters', 'status', CLUSTER]);
    expect(text.stdout).toMatch(/STALE: h2 i-/);
    for (const line of text.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    console.log(text.stdout);
  });
});
