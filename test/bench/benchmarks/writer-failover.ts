import { execFile } from 'node:child_process';
import dns from 'node:dns';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { silentLog } from '@aurora-haproxy/contract/log';
import { type HealthDaemon, runServe } from '../../../agent/health/serve';
import { ENDPOINT_TTL_SECONDS, startLocalDns } from '../../../packages/local-stack/dns-server';
import { clusterEndpointName } from '../../../packages/local-stack/endpoint-names';
import {
  PG_BIN_DIR,
  type PostgresCluster,
  startPostgresCluster,
} from '../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { freePort, serverStat, startHaproxy } from '../../integration/agent/health/fixture';
import {
  prepareWriterEndpointHost,
  startHostPgbouncer,
} from '../../integration/agent/health/writer-endpoint-host';
import {
  startPgbenchWriters,
  type WriterFailoverFigures,
  writerFailoverFigures,
} from '../../support/pgbench-writers';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { row } from '../lib/result';
import { median } from '../lib/stats';

/**
 * Writer failover (issue 12 item 1): pgbench read-write (tpcb-like, 8 clients) through the
 * writer endpoint (PgBouncer alias -> HAProxy writer listener, the health daemon electing the
 * writer and PAUSEing the alias during the gap) vs by the cluster's writer DNS name with
 * Aurora's 5 s TTL (dnsmasq, re-pointed at once after the promotion; each client resolves it
 * when it (re)connects through a cache that honours the TTL, as a JVM or nscd does). Same
 * cluster, same run, failovers alternating between the two sides.
 */
const PER_SIDE = Number(process.env.BENCH_WRITER_FAILOVERS ?? 3);
const CLIENTS = 8;
const SECONDS = Number(process.env.BENCH_WRITER_SECONDS ?? 20);
const CLUSTER_NAME = 'orders';
const WRITER_ALIAS = 'orders_rw';
const exec = promisify(execFile);

type Side = 'endpoint' | 'dns';

async function run(): Promise<BenchOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-writer-'));
  chmodSync(dir, 0o755);
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    // Each replica's base backup streams on two WAL senders.
    const pgc = await startPostgresCluster({
      replicas: 2 * PER_SIDE,
      extraConf: ['max_wal_senders = 30', 'max_replication_slots = 30'],
    });
    cleanup.push(() => pgc.stop());
    const tls = { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: pgc.caFile };
    const primary = pgc.primary();
    await exec(
      join(PG_BIN_DIR, 'pgbench'),
      [
        '-i',
        '-s',
        '1',
        '-q',
        '-h',
        primary.host,
        '-p',
        String(primary.port),
        '-U',
        'postgres',
        'postgres',
      ],
      { env: { ...process.env, ...tls }, timeout: 60_000 },
    );
    await pgc.waitForReplication();

    // Ours: HAProxy + health daemon + PgBouncer on one simulated host.
    const writerHost = await prepareWriterEndpointHost(pgc, WRITER_ALIAS);
    const { host, writerBackend, slotOf } = writerHost;
    const daemon: HealthDaemon = await runServe(writerHost.daemonOptions, { log: silentLog });
    cleanup.push(() => daemon.close());
    const haproxy = await startHaproxy(host, writerHost.bundle);
    cleanup.push(() => haproxy.stop());
    const pgbouncer = await startHostPgbouncer(writerHost, pgc.caFile);
    cleanup.push(() => pgbouncer.stop());

    // Baseline: one address per instance on a common port (as each Aurora instance has its
    // own IP and port 5432), and the cluster's writer DNS name on dnsmasq with a 5 s TTL.
    const forwardPort = await freePort('127.0.77.1');
    const addressOf = new Map<string, string>();
    for (const [i, node] of pgc.nodes().entries()) {
      const address = `127.0.77.${i + 1}`;
      addressOf.set(node.name, address);
      const server = net.createServer((socket) => {
        const upstream = net.connect(node.port, node.host);
        socket.pipe(upstream).pipe(socket);
        const end = () => {
          socket.destroy();
          upstream.destroy();
        };
        socket.on('error', end);
        upstream.on('error', end);
        socket.on('close', end);
        upstream.on('close', end);
      });
      await new Promise<void>((resolve) => server.listen(forwardPort, address, resolve));
      cleanup.push(() => new Promise((r) => server.close(r)));
    }
    const dnsServer = await startLocalDns({ dir: join(dir, 'dns') });
    cleanup.push(() => dnsServer.stop());
    const writerName = clusterEndpointName(CLUSTER_NAME, 'writer');
    await dnsServer.set(writerName, addressOf.get(pgc.primary().name) as string);
    const resolver = new dns.promises.Resolver();
    resolver.setServers([dnsServer.nameserver]);

    const results: Record<Side, WriterFailoverFigures[]> = { endpoint: [], dns: [] };
    for (let k = 0; k < 2 * PER_SIDE; k++) {
      const side: Side = k % 2 === 0 ? 'endpoint' : 'dns';
      const old = pgc.primary();
      const next = pgc.replicas().find((r) => r.running);
      if (!next) throw new Error('no replica left to promote');
      await waitFor(
        `the writer slot of ${old.name} UP before failover ${k + 1}`,
        async () => (await serverStat(host, writerBackend, slotOf(old.name))).status === 'UP',
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      // A resolver cache per failover (a fresh application), honouring the record's TTL.
      let cached: { address: string; until: number } | undefined;
      const resolveHost = async () => {
        if (cached && Date.now() < cached.until) return cached.address;
        const [answer] = await resolver.resolve4(writerName, { ttl: true });
        if (!answer) throw new Error(`${writerName} has no A record`);
        cached = { address: answer.address, until: Date.now() + answer.ttl * 1000 };
        return answer.address;
      };
      const logDir = join(dir, `run-${k}`);
      const writers = startPgbenchWriters(
        side === 'endpoint'
          ? {
              host: pgbouncer.host,
              port: pgbouncer.port,
              database: WRITER_ALIAS,
              clients: CLIENTS,
              seconds: SECONDS,
              logDir,
              env: { PGSSLMODE: 'disable' },
            }
          : {
              host: writerName,
              port: forwardPort,
              database: 'postgres',
              clients: CLIENTS,
              seconds: SECONDS,
              logDir,
              env: tls,
              resolveHost,
            },
      );
      const before = await historyCount(pgc, old.name);
      await waitFor(
        `100 writes on ${old.name} (${side})`,
        async () => (await historyCount(pgc, old.name)) - before >= 100,
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      await pgc.stopNode(old.name);
      await pgc.promote(next.name);
      const promotedAt = Date.now();
      // Aurora re-points the cluster endpoint after the promotion; here at once.
      await dnsServer.set(writerName, addressOf.get(next.name) as string);
      await pgc.repoint(next.name);
      const figures = writerFailoverFigures(await writers.done, promotedAt);
      results[side].push(figures);
      console.log(`[writer-failover] ${side} #${k + 1}: ${JSON.stringify(figures)}`);
    }

    const med = (side: Side, f: (x: WriterFailoverFigures) => number | null) => {
      const values = results[side].map(f).filter((v): v is number => v !== null);
      return values.length === results[side].length ? median(values) : null;
    };
    const sum = (side: Side, f: (x: WriterFailoverFigures) => number) =>
      results[side].reduce((a, x) => a + f(x), 0);
    const errorsOf = (side: Side) => {
      const all: Record<string, number> = {};
      for (const x of results[side])
        for (const [e, n] of Object.entries(x.errors)) all[e] = (all[e] ?? 0) + n;
      return Object.entries(all)
        .map(([e, n]) => `${n} x ${e.slice(0, 90)}`)
        .join('; ');
    };
    const firstEndpoint = med('endpoint', (x) => x.firstCommitMs);
    const failedAfterEndpoint = sum('endpoint', (x) => x.failedAfterPromotion);
    return {
      status: 'measured',
      rows: [
        row(
          'promotion -> first committed write (median)',
          'ms',
          med('dns', (x) => x.firstCommitMs),
          firstEndpoint,
          {
            headline: true,
            target: '<= 1000 ms',
            met: firstEndpoint !== null && firstEndpoint <= 1000,
            note: `${PER_SIDE} failovers per side; each: ${results.endpoint.map((x) => x.firstCommitMs).join(', ')} ms (ours) / ${results.dns.map((x) => x.firstCommitMs).join(', ')} ms (baseline)`,
          },
        ),
        row(
          'failed transactions started after the promotion (all failovers)',
          'transactions',
          sum('dns', (x) => x.failedAfterPromotion),
          failedAfterEndpoint,
          { target: '0', met: failedAfterEndpoint === 0 },
        ),
        row(
          'failed transactions per failover (median)',
          'transactions',
          med('dns', (x) => x.failed),
          med('endpoint', (x) => x.failed),
          {
            note: `client errors, baseline: ${errorsOf('dns') || '-'} | ours: ${errorsOf('endpoint') || '-'}`,
          },
        ),
        row(
          'commits in the run after the promotion (median)',
          'transactions',
          med('dns', (x) => x.committedAfterPromotion),
          med('endpoint', (x) => x.committedAfterPromotion),
        ),
      ],
      method: [
        `PostgreSQL primary + ${2 * PER_SIDE} streaming replicas (TLS); one simulated host with HAProxy, the health daemon (tcp-check, PAUSE/RESUME of the writer alias) and PgBouncer (transaction pooling, server_login_retry 0.2 s, query_wait_timeout 60 s).`,
        `Load: pgbench tpcb-like, ${CLIENTS} clients, each its own pgbench -c 1 launched again 100 ms after it aborts (pgbench never reconnects), ${SECONDS} s per failover; commits from pgbench's per-transaction log; a failure is the transaction an aborted pgbench was in (started at its last commit).`,
        `Failover as Aurora's: the writer stopped (immediate), a replica promoted (promotion time = pg_promote returned), the others re-pointed. ${PER_SIDE} failovers per side, alternating, same cluster and processes.`,
        `Ours: clients connect to PgBouncer's writer alias. Baseline: clients connect by ${writerName} (dnsmasq, TTL ${ENDPOINT_TTL_SECONDS} s, re-pointed right after the promotion; each instance behind its own loopback address on one port), resolved at each (re)connect through a cache that keeps an answer for its TTL.`,
      ],
    };
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function historyCount(pgc: PostgresCluster, node: string): Promise<number> {
  const res = await pgc.query<{ n: number }>(
    node,
    'SELECT count(*)::int AS n FROM pgbench_history',
  );
  return Number(res.rows[0]?.n ?? 0);
}

export const writerFailover: Benchmark = {
  name: 'writer-failover',
  figure: 16,
  title: 'Writer failover: the writer endpoint vs the cluster writer DNS name (5 s TTL)',
  run,
};
