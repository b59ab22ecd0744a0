import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_STATE } from '../../../../agent/haproxy/servers-state';
import { pendingSlotsPath } from '../../../../agent/state/pending-slots';
import {
  PG_BIN_DIR,
  PG_USER,
  type PgNode,
} from '../../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import { ALIAS, type ApplyStack, buildAgent, runAgent, startApplyStack } from './stack';
import { startReadLoop } from './writer-reads';

/**
 * Issue 16 item 1 on real processes (PostgreSQL primary + 3 replicas, HAProxy 2.6 in agent
 * check mode, PgBouncer, the health daemon): a bundle re-addresses slot r01 onto an instance
 * that is in fact the writer (the RDS view lags a promotion) while another slot (r02) is
 * drained and still holds sessions, so the apply sits in its drain wait. Fresh connections
 * through HAProxy count the reads answered by the writer: there must be none, during the
 * apply and after it.
 */
const execFileAsync = promisify(execFile);
let stack: ApplyStack;
let replicas: PgNode[];
let agent: string;

beforeAll(async () => {
  stack = await startApplyStack({ replicas: 3 });
  replicas = stack.pg.replicas();
  agent = await buildAgent(stack.dir);
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
        ssl: stack.pg.sslThroughProxy(),
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

async function applyAndWaitUp(bundle: Bundle): Promise<void> {
  expect(await stack.apply(bundle)).toMatchObject({ ok: true });
  for (const server of bundle.clusters[0]?.servers ?? []) {
    await waitFor(
      `${server.name} UP`,
      async () => (await slotRow(server.name))?.opState === OP_STATE.running,
      { timeoutMs: 15_000 },
    );
  }
}

/**
 * pgbench through PgBouncer with a script that divides by zero when the writer answers, so
 * each read on the writer aborts its client with "division by zero" (counted); other aborts
 * (a session ended while a slot went down) are reported, not counted as writer reads.
 */
function writerTrapPgbench(seconds: number) {
  const script = join(stack.dir, 'writer-trap.sql');
  writeFileSync(script, 'select 1 / pg_is_in_recovery()::int;\n');
  return execFileAsync(
    join(PG_BIN_DIR, 'pgbench'),
    [
      ...['-n', '-f', script, '-c', '4', '-j', '2', '-T', String(seconds)],
      ...['-h', stack.pgbouncer.host, '-p', String(stack.pgbouncer.port), '-U', PG_USER, ALIAS],
    ],
    { timeout: (seconds + 30) * 1000 },
  ).then(
    (r) => `${r.stdout}${r.stderr}`,
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  );
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

describe('kill -9 of the agent at a random point of that apply, under pgbench', () => {
  it('no read is answered by the writer, during the apply, after the kill, and through the next apply', async () => {
    const [a, b, c] = replicas as [PgNode, PgNode, PgNode];
    const writerPort = stack.pg.primary().port;
    const env = { AURORA_HAPROXY_AGENT_CONFIG: stack.configPath };
    const rounds = 3;
    const totals = { direct: 0, pooled: 0, writer: 0, pgbenchWriter: 0, killed: 0 };
    const points: string[] = [];
    for (let round = 0; round < rounds; round++) {
      // Prepare: back to A, B, C all UP; sessions held on B so the apply waits in its drain
      const before = stack.render([a, b, c]);
      await applyAndWaitUp(before);
      const held = await holdSessionsOn(b.port, 2);
      const next = stack.render([{ ...a, port: writerPort }, c], { previous: before });
      const file = stack.bundleFile(next);
      const direct = startReadLoop(stack, 'direct', 2);
      const pooled = startReadLoop(stack, 'pgbouncer', 1);
      const bench = writerTrapPgbench(9);
      const release = new Promise((r) => setTimeout(r, 2_500)).then(() =>
        Promise.all(held.map((h) => h.end().catch(() => {}))),
      );

      // Act: kill -9 somewhere in the apply (spread over the rounds: staging, the daemon
      // wait and runtime commands, the drain wait, RECONNECT and the end), then read a while
      // with the apply dead, then apply again (not killed)
      const delayMs = Math.floor(((round + Math.random()) / rounds) * 2_800);
      const run = await runAgent(agent, ['apply', '--sha256', next.sha256, '--bundle-file', file], {
        env,
        kill: { delayMs, afterStderr: /^apply [a-f0-9]{64}: /m },
      });
      const killed = run.signal === 'SIGKILL';
      const stage = /drained /.test(run.stderr)
        ? 'after the drain'
        : /runtime API:/.test(run.stderr)
          ? 'in the drain wait / RECONNECT'
          : /judges every server/.test(run.stderr)
            ? 'in the runtime commands'
            : 'before any HAProxy change';
      points.push(`${delayMs} ms: ${killed ? `killed ${stage}` : 'finished'}`);
      if (killed) {
        totals.killed++;
        // The daemon stays strict until an apply converges
        if (stage !== 'before any HAProxy change') {
          expect(existsSync(pendingSlotsPath(stack.config.stateDir))).toBe(true);
        }
      }
      await release;
      await new Promise((r) => setTimeout(r, 2_000));
      const again = await runAgent(
        agent,
        ['apply', '--sha256', next.sha256, '--bundle-file', file],
        {
          env,
        },
      );
      await new Promise((r) => setTimeout(r, 1_000));
      const [d, p, benchOut] = await Promise.all([direct.stop(), pooled.stop(), bench]);

      // Assess
      expect(JSON.parse(again.stdout), again.stderr).toMatchObject({
        ok: true,
        sha256: next.sha256,
      });
      expect(existsSync(pendingSlotsPath(stack.config.stateDir))).toBe(false);
      totals.direct += d.total;
      totals.pooled += p.total;
      totals.writer += d.writer + p.writer;
      const trapped = benchOut.match(/division by zero/g)?.length ?? 0;
      totals.pgbenchWriter += trapped;
      const aborted = benchOut.match(/aborted/g)?.length ?? 0;
      console.log(
        `kill round ${round}: ${points[round]}; direct ${JSON.stringify(d)}, pooled ${JSON.stringify(p)}, pgbench writer ${trapped}, other aborts ${aborted - trapped}`,
      );
      expect(
        d.writer + p.writer,
        `writer reads (ports ${[...d.writerPorts, ...p.writerPorts]})`,
      ).toBe(0);
      expect(trapped, benchOut.slice(-600)).toBe(0);
      expect(benchOut).toMatch(/number of transactions actually processed: [1-9]/);
    }
    console.log(
      `kill -9 under pgbench: ${JSON.stringify(totals)}; points ${JSON.stringify(points)}`,
    );
    expect(totals.direct).toBeGreaterThan(20);
    // Three rounds of applies under pgbench: ~75 s on a loaded 2-core machine with plaintext
    // nodes, ~100 s since every connection to a node is TLS (rds.force_ssl=1).
  }, 240_000);
});
