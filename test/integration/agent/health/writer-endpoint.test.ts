import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { jsonLinesLog, silentLog } from '@aurora-haproxy/contract/log';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { sendSocketCommand } from '../../../../agent/haproxy/unix-socket';
import { type HealthDaemon, runServe } from '../../../../agent/health/serve';
import { PgbouncerAdmin } from '../../../../agent/pgbouncer/admin';
import type { LocalHaproxy } from '../../../../packages/local-stack/haproxy';
import type { LocalPgbouncer } from '../../../../packages/local-stack/pgbouncer';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../../packages/local-stack/postgres-cluster';
import { sleep, waitFor } from '../../../../packages/local-stack/process/wait';
import { failoverFigures, startWriteProbe } from '../../../support/write-probe';
import { serverStat, startHaproxy, type TestHost } from './fixture';
import { prepareWriterEndpointHost, startHostPgbouncer } from './writer-endpoint-host';

/**
 * Writer endpoint (issue 12) on the real programs: PostgreSQL primary + 2 streaming replicas,
 * HAProxy on a bundle with a writer endpoint, the health daemon, PgBouncer with the bundle's
 * include. Writes go through the writer alias the whole time; the figures are printed.
 */
const WRITER_ALIAS = 'orders_rw';

interface Stack {
  pgc: PostgresCluster;
  /** PgBouncer's admin console, as the daemon reaches it. */
  admin: PgbouncerAdmin;
  /** Start another daemon on the same host (after closing the first). */
  startDaemon(): Promise<HealthDaemon>;
  host: TestHost;
  bundle: Bundle;
  pgbouncer: LocalPgbouncer;
  writerBackend: string;
  /** The writer endpoint's slot of a node. */
  slotOf(id: string): string;
}

/**
 * Every `writerBackend` slot's HAProxy status, sampled until stopped: the most UP at once and
 * every slot seen UP.
 */
function sampleUpCounts(host: TestHost, backend: string) {
  let running = true;
  let maxUp = 0;
  let samples = 0;
  const everUp = new Set<string>();
  const done = (async () => {
    while (running) {
      try {
        const csv = await sendSocketCommand(host.statsSocket, 'show stat', 1000);
        const up = csv
          .split('\n')
          .map((l) => l.split(','))
          .filter((f) => f[0] === backend && /^m\d{2}$/.test(f[1] ?? ''))
          .filter((f) => f[17]?.startsWith('UP'))
          .map((f) => f[1] as string);
        for (const slot of up) everUp.add(slot);
        maxUp = Math.max(maxUp, up.length);
        samples++;
      } catch {
        /* a busy socket: next sample */
      }
      await sleep(10);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { maxUp, samples, everUp: [...everUp].sort() };
    },
  };
}

describe('writer endpoint on HAProxy + PgBouncer + PostgreSQL', () => {
  let cluster: PostgresCluster | undefined;
  let haproxy: LocalHaproxy | undefined;
  let daemon: HealthDaemon | undefined;
  let pgbouncer: LocalPgbouncer | undefined;

  afterEach(async () => {
    await pgbouncer?.stop();
    await daemon?.close();
    await haproxy?.stop();
    await cluster?.stop();
    pgbouncer = undefined;
    daemon = undefined;
    haproxy = undefined;
    cluster = undefined;
  });

  async function startStack(options: { writerPauseMaxMs?: number } = {}): Promise<Stack> {
    cluster = await startPostgresCluster({ replicas: 2 });
    const pgc = cluster;
    await pgc.query(
      'primary',
      'CREATE TABLE writes (id bigserial PRIMARY KEY, client int, at timestamptz DEFAULT clock_timestamp())',
    );
    const writerHost = await prepareWriterEndpointHost(pgc, WRITER_ALIAS);
    const { host, bundle, writerBackend, slotOf } = writerHost;
    const startDaemon = () =>
      runServe(
        { ...writerHost.daemonOptions, writerPauseMaxMs: options.writerPauseMaxMs ?? 30_000 },
        { log: process.env.WRITER_DEBUG ? jsonLinesLog() : silentLog },
      );
    daemon = await startDaemon();
    haproxy = await startHaproxy(host, bundle);
    pgbouncer = await startHostPgbouncer(writerHost, pgc.caFile);
    await waitFor(
      "the primary's writer slot UP after a passing check, the replicas' DOWN",
      async () => {
        const primary = await serverStat(host, writerBackend, slotOf('primary'));
        const others = await Promise.all(
          ['replica1', 'replica2'].map((id) => serverStat(host, writerBackend, slotOf(id))),
        );
        return (
          primary.status === 'UP' &&
          primary.checkStatus === 'L7OK' &&
          others.every((o) => o.status.startsWith('DOWN'))
        );
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const admin = new PgbouncerAdmin(writerHost.pgbouncerAdmin);
    return { pgc, host, bundle, pgbouncer, writerBackend, slotOf, admin, startDaemon };
  }

  it("fails over: writes commit on the promoted replica, one slot UP at a time and only the writer's", async () => {
    // Prepare
    const s = await startStack();
    const sampler = sampleUpCounts(s.host, s.writerBackend);
    const probe = startWriteProbe({
      host: s.pgbouncer.host,
      port: s.pgbouncer.port,
      database: WRITER_ALIAS,
      user: 'postgres',
      table: 'writes',
      clients: 4,
    });
    await waitFor(
      'writes committing on the primary through the writer alias',
      async () =>
        probe.records.filter((r) => r.ok && r.serverPort === s.pgc.node('primary').port).length >
        20,
      { timeoutMs: 20_000, intervalMs: 50 },
    );

    // Act: stop the writer as Aurora does, promote replica1, repoint replica2
    const stoppedAt = Date.now();
    await s.pgc.stopNode('primary');
    if (process.env.WRITER_DEBUG) console.error(`STOPPED ${new Date().toISOString()}`);
    await s.pgc.promote('replica1');
    const promotedAt = Date.now();
    if (process.env.WRITER_DEBUG) console.error(`PROMOTED ${new Date().toISOString()}`);
    const newWriter = s.pgc.node('replica1').port;
    await s.pgc.repoint('replica1');
    await waitFor(
      'a write committed on the promoted replica through the writer alias',
      async () => probe.records.some((r) => r.ok && r.serverPort === newWriter),
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const committedOnNew = () =>
      probe.records.filter((r) => r.ok && r.serverPort === newWriter).length;
    await waitFor(
      '20 more writes committed on the promoted replica',
      async () => committedOnNew() >= 20,
      {
        timeoutMs: 30_000,
        intervalMs: 20,
      },
    );
    await probe.stop();
    const { maxUp, samples, everUp } = await sampler.stop();

    // Assess
    const figures = failoverFigures(probe.records, promotedAt, newWriter);
    const failedBeforeStop = probe.records.filter((r) => !r.ok && r.startedAt < stoppedAt);
    console.log(
      `[writer endpoint] stop -> promoted ${promotedAt - stoppedAt} ms; promoted -> first commit on the new writer ${figures.firstCommitMs} ms; committed ${figures.committed}, failed ${figures.failed} (${failedBeforeStop.length} started before the stop, ${figures.failedAfterPromotion} after the promotion); max writer slots UP at once ${maxUp} over ${samples} samples; errors ${JSON.stringify(figures.errors)}`,
    );
    const sent = daemon?.writerPause?.sent ?? [];
    const commands = sent.map((c) => `${c.action} ${c.alias}`);
    const lateFailures = probe.records
      .filter((r) => !r.ok && r.startedAt >= promotedAt)
      .map((r) => `+${r.startedAt - promotedAt} ms ${r.error}`);
    console.log(
      `[writer endpoint] PgBouncer commands (ms from the promotion): ${sent.map((c) => `${c.action} ${c.at - promotedAt}`).join(', ')}; failed after the promotion: ${JSON.stringify(lateFailures)}`,
    );
    expect(figures.firstCommitMs).not.toBeNull();
    // The alias was PAUSEd while no writer was elected and RESUMEd after the new one was UP:
    // no client asked PgBouncer for a server during the gap, so none was failed fast.
    expect(commands.slice(-2)).toEqual([`pause ${WRITER_ALIAS}`, `resume ${WRITER_ALIAS}`]);
    expect({
      failedAfterPromotion: figures.failedAfterPromotion,
      errors: figures.errors,
    }).toEqual({ failedAfterPromotion: 0, errors: expect.anything() });
    // In flight on the old writer when it stopped: at most one per client.
    expect(figures.errors['server conn crashed?'] ?? 0).toBeLessThanOrEqual(4);
    expect(maxUp).toBe(1);
    expect(samples).toBeGreaterThan(10);
    expect(everUp).toEqual([s.slotOf('primary'), s.slotOf('replica1')].sort());
    // Nothing committed on any server but the primary before and replica1 after.
    const ports = new Set(probe.records.filter((r) => r.ok).map((r) => r.serverPort));
    expect([...ports].sort()).toEqual([s.pgc.node('primary').port, newWriter].sort());
  });

  it('split brain: a replica promoted while the old primary still runs takes the endpoint; no new write reaches the old one', async () => {
    // Prepare
    const s = await startStack();
    const oldPort = s.pgc.node('primary').port;
    const newPort = s.pgc.node('replica1').port;
    const { slotOf } = s;
    const probe = startWriteProbe({
      host: s.pgbouncer.host,
      port: s.pgbouncer.port,
      database: WRITER_ALIAS,
      user: 'postgres',
      table: 'writes',
      clients: 2,
    });
    const sampler = sampleUpCounts(s.host, s.writerBackend);
    await waitFor(
      'writes committing on the primary',
      async () => probe.records.some((r) => r.ok && r.serverPort === oldPort),
      { timeoutMs: 20_000, intervalMs: 50 },
    );

    // Act: promote replica1 with the primary still running (two servers out of recovery)
    await s.pgc.promote('replica1');
    const promotedAt = Date.now();
    await waitFor(
      "replica1's writer slot UP and the old primary's DOWN in HAProxy",
      async () =>
        (await serverStat(s.host, s.writerBackend, slotOf('replica1'))).status === 'UP' &&
        (await serverStat(s.host, s.writerBackend, slotOf('primary'))).status.startsWith('DOWN'),
      { timeoutMs: 20_000, intervalMs: 10 },
    );
    const movedAt = Date.now();
    await waitFor(
      'a write committed on replica1',
      async () =>
        probe.records.some((r) => r.ok && r.serverPort === newPort && r.startedAt > movedAt),
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    await waitFor(
      '10 more writes committed on replica1',
      async () =>
        probe.records.filter((r) => r.ok && r.serverPort === newPort && r.startedAt > movedAt)
          .length >= 10,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const { maxUp, samples } = await sampler.stop();
    await probe.stop();

    // Assess
    const verdicts = daemon?.status().slots ?? [];
    const oldVerdict = verdicts.find((v) => v.slot === `${s.writerBackend}/${slotOf('primary')}`);
    const lateOnOld = probe.records.filter(
      (r) => r.ok && r.serverPort === oldPort && r.startedAt > movedAt,
    );
    console.log(
      `[writer endpoint, split brain] promoted -> endpoint moved ${movedAt - promotedAt} ms; old primary's verdict: ${oldVerdict?.reason}`,
    );
    expect(oldVerdict?.reason).toMatch(/claims the writer but lost the writer election/);
    expect(lateOnOld).toEqual([]);
    expect(maxUp).toBe(1);
    expect(samples).toBeGreaterThan(10);
  });

  it('hostile cases: a PAUSE left by a killed daemon is RESUMEd at start; a PAUSE survives a RELOAD; no writer for writerPauseMaxMs RESUMEs', async () => {
    // Prepare: a stack whose daemon releases a pause after 3 s without a writer
    const s = await startStack({ writerPauseMaxMs: 3_000 });
    const pausedNow = async () => (await s.admin.paused(WRITER_ALIAS)) === true;
    const writeOnce = async (timeoutMs = 10_000) => {
      const client = new pg.Client({
        host: s.pgbouncer.host,
        port: s.pgbouncer.port,
        user: 'postgres',
        database: WRITER_ALIAS,
        connectionTimeoutMillis: timeoutMs,
        query_timeout: timeoutMs,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('INSERT INTO writes (client) VALUES (0)');
        return 'ok';
      } catch (error) {
        return errorMessage(error);
      } finally {
        await client.end().catch(() => {});
      }
    };
    await waitFor('a write through the writer alias', async () => (await writeOnce()) === 'ok', {
      timeoutMs: 20_000,
      intervalMs: 100,
    });

    // Act 1: a daemon killed mid-PAUSE leaves the alias paused; the next one starts
    await daemon?.close();
    daemon = undefined;
    await s.admin.pause(WRITER_ALIAS, 1_000);
    const leftPaused = await pausedNow();
    daemon = await s.startDaemon();
    await waitFor(
      'the new daemon RESUMEs the writer alias at start',
      async () => !(await pausedNow()),
      {
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );
    const afterRestart = await writeOnce();

    // Act 2: the writer stops and nobody is promoted
    await s.pgc.stopNode('primary');
    const stoppedAt = Date.now();
    await waitFor('the daemon PAUSEs the writer alias (no writer elected)', pausedNow, {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    const pausedAt = Date.now();
    // A client asking for a server now waits in PgBouncer instead of failing.
    const waiting = writeOnce(60_000);
    await waitFor(
      'the client waiting in PgBouncer',
      async () => {
        const client = new pg.Client({ ...s.admin.target, database: 'pgbouncer' });
        client.on('error', () => undefined); // a dropped socket also rejects the pending call
        await client.connect();
        try {
          const { rows } = await client.query('SHOW POOLS');
          return rows.some((r) => r.database === WRITER_ALIAS && Number(r.cl_waiting) > 0);
        } finally {
          await client.end();
        }
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    await s.admin.reload();
    const pausedAfterReload = await pausedNow();
    await waitFor(
      'the daemon RESUMEs the alias after writerPauseMaxMs (3 s) without a writer',
      async () => !(await pausedNow()),
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    const releasedAt = Date.now();
    // Released: a new client is PgBouncer's again (its own errors and query_wait_timeout).
    const releasedStart = Date.now();
    const released = await writeOnce(5_000);
    const releasedMs = Date.now() - releasedStart;

    // Assess
    console.log(
      `[writer endpoint, hostile] stop -> PAUSE ${pausedAt - stoppedAt} ms; PAUSE -> released ${releasedAt - pausedAt} ms; a new client after the release: ${released} after ${releasedMs} ms`,
    );
    expect(leftPaused).toBe(true);
    expect(afterRestart).toBe('ok');
    expect(pausedAfterReload).toBe(true);
    expect(releasedAt - pausedAt).toBeGreaterThanOrEqual(2_500);
    expect(released).not.toBe('ok');
    // The client queued before the release waits for a server (query_wait_timeout 60 s) and
    // commits once the writer is back.
    await s.pgc.startNode('primary');
    expect(await waiting).toBe('ok');
  });
});
