import { join } from 'node:path';
import { azBackendName } from '@aurora-haproxy/contract/az-affinity';
import { backendName } from '@aurora-haproxy/contract/names';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_STATE } from '../../../../agent/haproxy/servers-state';
import { type LocalHaproxy, startLocalHaproxy } from '../../../../packages/local-stack/haproxy';
import type { PgNode } from '../../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import { type ApplyStack, CLUSTER_ID, startApplyStack } from './stack';

/**
 * AZ affinity on real processes: PostgreSQL primary + 2 replicas, HAProxy (master-worker), the
 * health daemon, the agent's apply. This host is in eu-west-1a; one reader is in eu-west-1a,
 * the other in eu-west-1b. Every new connection to the cluster's listener is a new server
 * connection, so the share of them that reach the in-zone reader is what the goal measures
 * (>= 95 % while an in-zone reader passes). Stopping the in-zone reader must move new
 * connections to the other zone, and bringing it back must move them back; the preference
 * must survive a runtime membership change, a reload and a restart of HAProxy.
 */
const HOST_AZ = 'eu-west-1a';
const OTHER_AZ = 'eu-west-1b';
const BACKEND = backendName(CLUSTER_ID);
const AZ_BACKEND = azBackendName(BACKEND);

let stack: ApplyStack;
let haproxy: LocalHaproxy;
let inZone: PgNode;
let otherZone: PgNode;

beforeAll(async () => {
  stack = await startApplyStack({ replicas: 2, hostAz: HOST_AZ });
  haproxy = stack.haproxy;
  [inZone, otherZone] = stack.pg.replicas() as [PgNode, PgNode];
});

afterAll(async () => {
  if (haproxy !== stack?.haproxy) await haproxy?.stop().catch(() => {});
  await stack?.stop();
});

/** One new connection through the cluster's listener: the port of the node that answered. */
async function landOn(): Promise<number> {
  const client = new pg.Client({
    host: stack.config.haproxy.host.listenAddress,
    port: stack.clusterPort,
    user: 'postgres',
    database: 'postgres',
    // The nodes serve TLS only; through HAProxy the chain is checked, not the name.
    ssl: stack.pg.sslThroughProxy(),
    connectionTimeoutMillis: 3_000,
  });
  client.on('error', () => undefined); // a dropped socket also rejects the pending call
  await client.connect();
  try {
    const { rows } = await client.query<{ port: string }>("SELECT current_setting('port') AS port");
    return Number(rows[0]?.port);
  } finally {
    await client.end();
  }
}

/** `count` new connections, one after the other: how many landed on `node`, and failures. */
async function share(node: PgNode, count: number): Promise<{ on: number; failed: number }> {
  let on = 0;
  let failed = 0;
  for (let i = 0; i < count; i++) {
    try {
      if ((await landOn()) === node.port) on++;
    } catch {
      failed++;
    }
  }
  return { on, failed };
}

async function waitUp(backend: string, slots: string[], timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `${slots.map((s) => `${backend}/${s}`).join(', ')} UP`,
    async () => {
      const rows = (await haproxy.runtime.showServersState(backend)).rows;
      return slots.every(
        (slot) => rows.find((r) => r.server === slot)?.opState === OP_STATE.running,
      );
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Poll new connections until one lands on `node`; the time it took. */
async function firstLandingOn(node: PgNode, timeoutMs = 20_000): Promise<number> {
  const start = Date.now();
  await waitFor(
    `a new connection on the node at port ${node.port}`,
    async () => (await landOn().catch(() => 0)) === node.port,
    { timeoutMs, intervalMs: 20 },
  );
  return Date.now() - start;
}

describe('AZ affinity through the real HAProxy', () => {
  const zones = () =>
    new Map([
      [inZone.name, HOST_AZ],
      [otherZone.name, OTHER_AZ],
    ]);

  it('sends new connections to the in-zone reader, falls back across zones when it stops, and returns when it is back', async () => {
    // Prepare
    const bundle = stack.render([inZone, otherZone], { azAffinity: true, zones: zones() });
    const result = await stack.apply(bundle);
    expect(result.ok, result.error).toBe(true);
    await waitUp(BACKEND, ['r01', 'r02']);
    await waitUp(AZ_BACKEND, ['r01']);

    // Act + Assess: while the in-zone reader passes
    const before = await share(inZone, 100);
    expect(before.failed).toBe(0);
    expect(before.on).toBeGreaterThanOrEqual(95);

    // Act + Assess: the in-zone reader stops
    await stack.pg.stopNode(inZone.name);
    const fallbackMs = await firstLandingOn(otherZone);
    const during = await share(otherZone, 40);
    expect(during.failed, 'new connections fail after the fallback').toBe(0);
    expect(during.on).toBe(40);

    // Act + Assess: it is back
    await stack.pg.startNode(inZone.name);
    const returnMs = await firstLandingOn(inZone, 30_000);
    await waitUp(AZ_BACKEND, ['r01']);
    const after = await share(inZone, 100);
    expect(after.failed).toBe(0);
    expect(after.on).toBeGreaterThanOrEqual(95);
    console.log(
      `az affinity: in-zone ${before.on}/100 before, fallback after ${fallbackMs} ms, return after ${returnMs} ms, in-zone ${after.on}/100 after`,
    );
  });

  it('follows a zone change on the runtime path (no reload), then keeps it across a reload and a restart', async () => {
    // Prepare: the readers swap zones (RDS says so); only membership data changes
    const previous = stack.render([inZone, otherZone], { azAffinity: true, zones: zones() });
    const swapped = new Map([
      [inZone.name, OTHER_AZ],
      [otherZone.name, HOST_AZ],
    ]);
    const next = stack.render([inZone, otherZone], { azAffinity: true, zones: swapped, previous });
    expect(next.structureSha256).toBe(previous.structureSha256);

    // Act
    const result = await stack.apply(next);

    // Assess
    expect(result.ok, result.error).toBe(true);
    expect(result.action).toBe('runtime');
    await waitUp(AZ_BACKEND, ['r02']);
    const runtime = await share(otherZone, 60);
    expect(runtime.on).toBeGreaterThanOrEqual(57);

    // Act + Assess: a reload of the same file (systemctl reload) keeps the preference
    await haproxy.master.reload();
    await waitFor('the master CLI after the reload', () => haproxy.showProc().then(() => true), {
      timeoutMs: 10_000,
    });
    await waitUp(AZ_BACKEND, ['r02']);
    const reloaded = await share(otherZone, 60);
    expect(reloaded.failed).toBe(0);
    expect(reloaded.on).toBeGreaterThanOrEqual(57);

    // Act + Assess: a restart from the file on disk (the in-zone slot comes from `.if`)
    await haproxy.stop();
    haproxy = await startLocalHaproxy({
      dir: join(stack.dir, 'haproxy-restarted'),
      configPath: stack.config.haproxy.configPath,
      host: stack.config.haproxy.host,
    });
    await waitUp(BACKEND, ['r01', 'r02']);
    await waitUp(AZ_BACKEND, ['r02']);
    const rows = (await haproxy.runtime.showServersState(AZ_BACKEND)).rows;
    expect(rows.find((r) => r.server === 'r01')?.opState).not.toBe(OP_STATE.running);
    const restarted = await share(otherZone, 60);
    expect(restarted.failed).toBe(0);
    expect(restarted.on).toBeGreaterThanOrEqual(57);
  });
});
