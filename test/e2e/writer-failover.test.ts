import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DATABASE, LocalStack } from '../../packages/local-stack/stack';
import { startPgbenchWriters, writerFailoverFigures } from '../support/pgbench-writers';
import { CLUSTER, initPgbench, onPrimary } from './support';

/**
 * Issue 12 item 1 end to end: a failover under `pgbench` read-write (-c 8) through the
 * writer endpoint of the local stack (simulated Aurora cluster, a fleet host with HAProxy,
 * the health daemon and PgBouncer). Asserted: no transaction started after the promotion
 * fails, and writes commit on the new writer within a generous bound (the ≤ 1 s goal is
 * figure 16 of docs/BENCHMARKS.md, not a timed assertion here).
 */
const WRITER_ALIAS = 'orders_rw';
/** Generous: CI runs at load ~8 on 2 cores. The figure is measured by the benchmark. */
const FIRST_COMMIT_BOUND_MS = 15_000;

/** Wait until pgbench_history on the primary holds `n` rows (bounded, with a clear message). */
async function waitForWrites(stack: LocalStack, n: number): Promise<void> {
  await onPrimary(stack, async (client) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM pgbench_history');
      const count = Number(rows[0]?.n ?? 0);
      if (count >= n) return;
      if (Date.now() > deadline) {
        throw new Error(`only ${count} of ${n} writes through the writer alias within 60 s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });
}

describe('writer endpoint failover under pgbench read-write (local stack)', () => {
  let stack: LocalStack;
  let logDir: string;

  beforeAll(async () => {
    stack = await LocalStack.start({
      clusters: [{ clusterId: CLUSTER, replicas: 2 }],
      instances: 1,
    });
    await initPgbench(stack);
    logDir = mkdtempSync(join(tmpdir(), 'ah-writer-failover-'));
  });
  afterAll(async () => {
    await stack?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  it('0 failed transactions among those started after the promotion; writes commit on the new writer', async () => {
    // Prepare: the cluster with a writer endpoint, pgbench -c 8 writing through it
    const before = await stack.desiredSha();
    const port = await stack.freeClusterPort();
    const writerPort = await stack.freeClusterPort();
    const add = await stack.cli([
      'clusters',
      'add',
      CLUSTER,
      '--port',
      String(port),
      '--db',
      `orders=${APP_DATABASE}`,
      '--writer-alias',
      `${WRITER_ALIAS}=${APP_DATABASE}`,
      '--writer-port',
      String(writerPort),
    ]);
    expect(add.code, add.stderr).toBe(0);
    await stack.waitForConvergence({ not: before, timeoutMs: 60_000 });
    const [host] = stack.fleet.inService();
    if (!host) throw new Error('no InService host');
    const writers = startPgbenchWriters({
      host: host.host.listenAddress,
      port: host.pgbouncerPort,
      database: WRITER_ALIAS,
      clients: 8,
      seconds: 40,
      logDir,
      env: { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: stack.clientCaFile },
    });
    // pgbench buffers its transaction log: count the writes on the writer itself.
    await waitForWrites(stack, 200);

    // Act
    const failover = await stack.failover(CLUSTER);
    const run = await writers.done;

    // Assess
    const figures = writerFailoverFigures(run, failover.promotedAt);
    console.log(
      `[writer failover e2e] promoted -> first commit ${figures.firstCommitMs} ms; committed after promotion ${figures.committedAfterPromotion}; failed ${figures.failed} (${figures.failedAfterPromotion} started after the promotion); pgbench launches ${run.launches}; errors ${JSON.stringify(figures.errors)}`,
    );
    // ms from the promotion, so a failure says where in the failover it fell.
    expect(
      run.failed
        .filter((f) => f.startedAt >= failover.promotedAt)
        .map((f) => ({
          client: f.client,
          startedMs: Math.round(f.startedAt - failover.promotedAt),
          failedMs: Math.round(f.failedAt - failover.promotedAt),
          firstCommitMs: figures.firstCommitMs,
          error: f.error,
        })),
      'transactions started after the promotion that failed',
    ).toEqual([]);
    expect(figures.firstCommitMs).not.toBeNull();
    expect(figures.firstCommitMs).toBeLessThan(FIRST_COMMIT_BOUND_MS);
    expect(figures.committedAfterPromotion).toBeGreaterThan(100);
  });
});
