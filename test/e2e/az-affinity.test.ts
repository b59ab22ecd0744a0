import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetInstance } from '../../packages/local-stack/fleet';
import { waitFor } from '../../packages/local-stack/process/wait';
import { APP_DATABASE, LocalStack } from '../../packages/local-stack/stack';
import { countReads, sampleReads } from '../../packages/local-stack/stack-probes';
import { readersUp, viaPgbouncer } from './support';

/**
 * AZ affinity end to end on the local stack: a simulated Aurora cluster whose readers the RDS
 * stand-in places in two zones (replica1 in us-east-1a, replica2 in us-east-1b), and two
 * simulated hosts in those zones (the fleet places host 1 in us-east-1a, host 2 in us-east-1b).
 * The cluster is registered with --az-affinity through the CLI and the admin Lambda; the bundle
 * is the same sha on both hosts, and each host lands >= 95 % of its new server connections on
 * the reader of its own zone. When that reader stops, the host falls back to the other zone;
 * when it is back, new connections return.
 */
const CLUSTER_ID = 'geo';
const ZONES = { primary: 'us-east-1a', replica1: 'us-east-1a', replica2: 'us-east-1b' };

describe('AZ affinity on two simulated zones', () => {
  let stack: LocalStack;
  let port = 0;

  beforeAll(async () => {
    stack = await LocalStack.start({
      clusters: [{ clusterId: CLUSTER_ID, replicas: 2, zones: ZONES }],
      instances: 2,
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** The node of the cluster in `az` that is a reader. */
  const readerIn = (az: string) => {
    const node = stack
      .cluster(CLUSTER_ID)
      .replicas()
      .find((r) => ZONES[r.name as keyof typeof ZONES] === az);
    if (!node) throw new Error(`no reader in ${az}`);
    return node;
  };

  /** One new server connection through a host's HAProxy listener: the node's port. */
  async function landOn(instance: FleetInstance): Promise<number> {
    const client = new pg.Client({
      host: instance.host.listenAddress,
      port,
      user: 'postgres',
      database: APP_DATABASE,
      // The nodes serve TLS only; through HAProxy the chain is checked, not the name.
      ssl: stack.cluster(CLUSTER_ID).sslThroughProxy(),
      connectionTimeoutMillis: 3_000,
    });
    client.on('error', () => undefined); // a dropped socket also rejects the pending call
    await client.connect();
    try {
      const { rows } = await client.query<{ port: number }>('SELECT inet_server_port() AS port');
      return Number(rows[0]?.port);
    } finally {
      await client.end();
    }
  }

  async function inZoneShare(instance: FleetInstance, count: number) {
    const own = readerIn(instance.az).port;
    let inZone = 0;
    let failed = 0;
    for (let i = 0; i < count; i++) {
      try {
        if ((await landOn(instance)) === own) inZone++;
      } catch {
        failed++;
      }
    }
    return { inZone, failed };
  }

  it('registers with --az-affinity: one sha on both hosts, each host in its own zone', async () => {
    // Prepare
    port = await stack.freeClusterPort();
    const before = await stack.desiredSha();
    const hosts = stack.fleet.inService();
    expect(hosts.map((h) => h.az)).toEqual(['us-east-1a', 'us-east-1b']);

    // Act
    const run = await stack.cli([
      'clusters',
      'add',
      CLUSTER_ID,
      '--port',
      String(port),
      '--db',
      `geo=${APP_DATABASE}`,
      '--az-affinity',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const desired = await stack.waitForConvergence({ not: before, timeoutMs: 60_000 });
    await readersUp(stack, CLUSTER_ID);

    // Assess
    expect([...stack.appliedShas().values()]).toEqual([desired, desired]);
    for (const host of hosts) {
      const { inZone, failed } = await inZoneShare(host, 100);
      expect(failed).toBe(0);
      expect(inZone, `host in ${host.az}`).toBeGreaterThanOrEqual(95);
      // Pooled reads through the host's PgBouncer stay in its zone too.
      const reads = countReads(await sampleReads(viaPgbouncer(host, 'geo'), 100, 4));
      expect(reads.errors).toBe(0);
      expect(reads.fromWriter).toBe(0);
      expect(reads.byPort.get(readerIn(host.az).port) ?? 0).toBeGreaterThanOrEqual(95);
    }
  });

  it('falls back across zones when the in-zone reader stops, and returns when it is back', async () => {
    // Prepare
    const [hostA, hostB] = stack.fleet.inService() as [FleetInstance, FleetInstance];
    const readerA = readerIn('us-east-1a');
    const readerB = readerIn('us-east-1b');

    // Act: host A's in-zone reader stops
    await stack.cluster(CLUSTER_ID).stopNode(readerA.name);
    const start = Date.now();
    await waitFor(
      'host A to land a new connection on the us-east-1b reader',
      async () => (await landOn(hostA).catch(() => 0)) === readerB.port,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const fallbackMs = Date.now() - start;

    // Assess: host A now uses the other zone; host B keeps its own
    const during = await inZoneShare(hostA, 30);
    expect(during.failed).toBe(0);
    expect(during.inZone).toBe(0);
    const other = await inZoneShare(hostB, 30);
    expect(other.inZone).toBeGreaterThanOrEqual(29);

    // Act: it is back (the RDS stand-in reports it again; reconcile may re-add it)
    await stack.cluster(CLUSTER_ID).startNode(readerA.name);
    await waitFor(
      'host A to land a new connection on its own zone again',
      async () => (await landOn(hostA).catch(() => 0)) === readerA.port,
      { timeoutMs: 90_000, intervalMs: 100 },
    );

    // Assess
    const after = await inZoneShare(hostA, 100);
    expect(after.failed).toBe(0);
    expect(after.inZone).toBeGreaterThanOrEqual(95);
    console.log(`e2e az affinity: host A fell back across zones ${fallbackMs} ms after the stop`);
  });
});
