import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_STATE } from '../../../../agent/haproxy/servers-state';
import type { Bundle } from '../../../../functions/contracts/bundle';
import { PG_USER, type PgNode } from '../../../../infra/local/postgres-cluster';
import { waitFor } from '../../../../infra/local/process/wait';
import { type ApplyStack, startApplyStack } from './stack';
import { startReadLoop } from './writer-reads';

/**
 * Issue 16 item 1 on real processes (PostgreSQL primary + 3 replicas, HAProxy 2.6 in agent
 * check mode, PgBouncer, the health daemon): a bundle re-addresses slot r01 onto an instance
 * that is in fact the writer (the RDS view lags a promotion) while another slot (r02) is
 * drained and still holds sessions, so the apply sits in its drain wait. Fresh connections
 * through HAProxy count the reads answered by the writer: there must be none, during the
 * apply and after it.
 */
let stack: ApplyStack;
let replicas: PgNode[];

beforeAll(async () => {
  stack = await startApplyStack({ replicas: 3 });
  replicas = stack.pg.replicas();
});

afterAll(async () => {
  await stack?.stop();
});

const slotRow = async (slot: string) =>
  (await stack.haproxy.runtime.showServersState()).rows.find((r) => r.server === slot);

/** Open transactions through HAProxy until `count` of them sit on the server at `port`. */
async function holdSessionsOn(port: number, count: number): Promise<pg.Client[]> {
  const held: pg.Client[] = [];
  const others: pg.Client[] = [];
  try {
    for (let i = 0; held.length < count && i < 30; i++) {
      const client = new pg.Client({
        host: stack.pgbouncer.host,
        port: stack.clusterPort,
        user: PG_USER,
        database: 'postgres',
      });
      client.on('error', () => {});
      await client.connect();
      await client.query('begin');
      const { rows } = await client.query('select inet_server_port() as port');
      (Number(rows[0]?.port) === port ? held : others).push(client);
    }
  } finally {
    await Promise.all(others.map((c) => c.end().catch(() => {})));
  }
  expect(held.length, `sessions held on ${port}`).toBe(count);
  return held;
}

describe('a slot re-addressed onto the writer while another slot drains (agent check mode)', () => {
  it('no new connection is answered by the writer during the apply or after it', async () => {
    // Prepare: r01 = A, r02 = B, r03 = C, all UP; two sessions held open on B
    const [a, b, c] = replicas as [PgNode, PgNode, PgNode];
    const before = stack.render([a, b, c]);
    expect(await stack.apply(before)).toMatchObject({ ok: true });
    for (const slot of ['r01', 'r02', 'r03']) {
      await waitFor(`${slot} UP`, async () => (await slotRow(slot))?.opState === OP_STATE.running, {
        timeoutMs: 10_000,
      });
    }
    const held = await holdSessionsOn(b.port, 2);
    // The next bundle: A's instance "moved" to the writer's address (a lagging RDS view of a
    // promotion), B leaves (r02 drains, its held sessions keep the drain wait going).
    const writerPort = stack.pg.primary().port;
    const next: Bundle = stack.render([{ ...a, port: writerPort }, c], { previous: before });
    expect(next.clusters[0]?.servers.map((s) => [s.name, s.port])).toEqual([
      ['r01', writerPort],
      ['r03', c.port],
    ]);
    const reads = startReadLoop(stack, 'direct', 4);

    // Act: apply (the drain wait lasts until the held sessions end or drainTimeoutMs)
    const ending = new Promise((r) => setTimeout(r, 2_500)).then(() =>
      Promise.all(held.map((h) => h.end().catch(() => {}))),
    );
    const result = await stack.apply(next);
    await ending;
    // ...and keep reading a while after it: the daemon now judges r01 at its new address
    await new Promise((r) => setTimeout(r, 1_500));
    const count = await reads.stop();

    // Assess
    console.log(`writer-leak: apply ${JSON.stringify(result)}; reads ${JSON.stringify(count)}`);
    expect(result).toMatchObject({ ok: true, action: 'runtime' });
    expect(result.durationMs).toBeGreaterThan(2_000); // the drain wait really happened
    expect(count.total).toBeGreaterThan(20);
    expect(count.writer, `reads answered by the writer (ports ${count.writerPorts})`).toBe(0);
    expect(await slotRow('r01')).toMatchObject({ port: writerPort });
    expect((await slotRow('r01'))?.opState).not.toBe(OP_STATE.running);
  });
});
