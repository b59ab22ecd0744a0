import {
  appendFileSync,
  chmodSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalPgbouncer, startLocalPgbouncer } from '../../../packages/local-stack/pgbouncer';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../packages/local-stack/process/ports';
import { waitFor } from '../../../packages/local-stack/process/wait';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { type OursHost, startOursHost } from '../lib/hosts';
import { registryEntry, renderOurs } from '../lib/ours-stack';
import { pgbenchInit, startPgbench } from '../lib/pgbench';
import { treeCpuSeconds } from '../lib/proc-cpu';
import { row } from '../lib/result';
import { median } from '../lib/stats';

/**
 * TLS on both sides vs plaintext (issue 9 item 6), same run, same processes: one simulated
 * host of the fleet (its HAProxy, its PgBouncer serving clients TLS with the operator's
 * certificate and reaching the reader with server_tls_sslmode verify-ca through HAProxy) and,
 * beside it on the same host address, a plaintext PgBouncer (client and server TLS disabled)
 * in front of the same HAProxy listener and the same reader (which, for this benchmark only,
 * also accepts plaintext). The two sides alternate, ROUNDS times each; medians are reported.
 * - pooled: pgbench -S with CLIENTS connections held (server connections pooled);
 * - connection setup: pgbench -S -C (a new client connection, TLS handshake included, per
 *   transaction; PgBouncer's server connections stay pooled);
 * - host CPU: CPU seconds of HAProxy's and the serving PgBouncer's process trees per 1,000
 *   transactions.
 */
const CLIENTS = Number(process.env.BENCH_TLS_CLIENTS ?? 8);
const SECONDS = Number(process.env.BENCH_TLS_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_TLS_ROUNDS ?? 3);
const CLUSTER_ID = 'tls-cost';

interface Side {
  name: 'plaintext' | 'tls';
  bouncer: { pid: number; host: string; port: number };
  env: NodeJS.ProcessEnv;
}

interface Sample {
  tps: number;
  failed: number;
  cpuPer1k: number;
  connectionMs: number;
  latencyMs: number;
}

/** The reader also accepts plaintext (this benchmark's baseline only; the stack never does). */
async function allowPlaintext(pg: PostgresCluster): Promise<void> {
  await Promise.all(
    pg.nodes().map(async (node) => {
      appendFileSync(join(node.dataDir, 'pg_hba.conf'), 'host all all 127.0.0.0/8 trust\n');
      await pg.query(node.name, 'SELECT pg_reload_conf()');
    }),
  );
}

async function runOnce(
  side: Side,
  haproxyPid: number,
  alias: string,
  connect: boolean,
): Promise<Sample> {
  const cpu0 = treeCpuSeconds([haproxyPid, side.bouncer.pid]);
  const run = await startPgbench({
    host: side.bouncer.host,
    port: side.bouncer.port,
    database: alias,
    clients: connect ? Math.max(1, CLIENTS / 2) : CLIENTS,
    seconds: SECONDS,
    env: side.env,
    connectEach: connect,
  }).done;
  const cpu = treeCpuSeconds([haproxyPid, side.bouncer.pid]) - cpu0;
  if (run.exitCode !== 0 && run.processed === 0) {
    throw new Error(`pgbench (${side.name}) processed nothing: ${run.stderrTail}`);
  }
  return {
    tps: run.tps,
    failed: run.failed + run.abortedClients,
    cpuPer1k: run.processed > 0 ? (cpu / run.processed) * 1000 : Number.NaN,
    connectionMs: run.connectionMs,
    latencyMs: run.latencyMs,
  };
}

async function run(): Promise<BenchOutcome> {
  const pg = await startPostgresCluster({ replicas: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-tls-'));
  chmodSync(dir, 0o755);
  let ours: OursHost | undefined;
  let plain: LocalPgbouncer | undefined;
  try {
    await pgbenchInit(pg.primary().host, pg.primary().port);
    await pg.waitForReplication();
    await allowPlaintext(pg);
    ours = await startOursHost({ clientTls: true });
    const reader = pg.replicas()[0];
    if (!reader) throw new Error('no reader');
    const port = await freePort();
    const cluster = { clusterId: CLUSTER_ID, port, pg };
    const applied = await ours.apply(renderOurs([cluster]));
    if (!applied.result.ok) throw new Error(`apply failed: ${applied.result.error}`);
    const alias = registryEntry(cluster).databases[0]?.alias as string;
    const listen = ours.instance.host.listenAddress;
    const databasesFile = join(dir, 'databases.ini');
    writeFileSync(
      databasesFile,
      `[databases]\n${alias} = host=${listen} port=${port} dbname=postgres\n`,
    );
    chmodSync(databasesFile, 0o644);
    plain = await startLocalPgbouncer({
      dir: join(dir, 'pgbouncer'),
      listenAddress: listen,
      port: await freePort(listen),
      socketDir: join(dir, 'sockets'),
      databasesFile,
      defaultPoolSize: 40,
    });
    const clientCa = ours.clientCaFile;
    if (!clientCa) throw new Error('the host serves no client TLS');
    const sides: Side[] = [
      {
        name: 'plaintext',
        bouncer: plain,
        env: { ...process.env, PGSSLMODE: 'disable' },
      },
      {
        name: 'tls',
        bouncer: ours.pgbouncer,
        env: { ...process.env, PGSSLMODE: 'verify-ca', PGSSLROOTCERT: clientCa },
      },
    ];
    // Both sides serve reads before measuring (the reader is UP in HAProxy).
    for (const side of sides) {
      await waitFor(
        `a pgbench transaction through the ${side.name} PgBouncer`,
        async () => {
          const probe = await startPgbench({
            host: side.bouncer.host,
            port: side.bouncer.port,
            database: alias,
            clients: 1,
            seconds: 1,
            env: side.env,
          }).done;
          return probe.processed > 0 && probe.failed === 0;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    }
    const pooled: Record<Side['name'], Sample[]> = { plaintext: [], tls: [] };
    const perConnection: Record<Side['name'], Sample[]> = { plaintext: [], tls: [] };
    const loads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
        loads.push(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]));
        pooled[side.name].push(await runOnce(side, ours.haproxy.pid, alias, false));
        perConnection[side.name].push(await runOnce(side, ours.haproxy.pid, alias, true));
      }
    }
    const med = (samples: Sample[], key: keyof Sample) => median(samples.map((s) => s[key]));
    const sum = (samples: Sample[]) => samples.reduce((a, s) => a + s.failed, 0);
    const tpsLoss = 1 - med(pooled.tls, 'tps') / med(pooled.plaintext, 'tps');
    const spread = (samples: Sample[]) => samples.map((s) => Math.round(s.tps)).join(' / ');
    return {
      status: 'measured',
      rows: [
        row(
          'pooled pgbench -S throughput',
          'tps',
          med(pooled.plaintext, 'tps'),
          med(pooled.tls, 'tps'),
          {
            headline: true,
            target: '>= 0.95 x plaintext (<= 5 % loss)',
            met: tpsLoss <= 0.05,
            note: `${CLIENTS} clients held, ${SECONDS} s x ${ROUNDS} rounds alternating; per round plaintext ${spread(pooled.plaintext)}, TLS ${spread(pooled.tls)}; loss ${(tpsLoss * 100).toFixed(1)} %.`,
          },
        ),
        row(
          'pooled latency average',
          'ms',
          med(pooled.plaintext, 'latencyMs'),
          med(pooled.tls, 'latencyMs'),
        ),
        row(
          'host CPU per 1,000 pooled transactions (HAProxy + PgBouncer)',
          'CPU s',
          med(pooled.plaintext, 'cpuPer1k'),
          med(pooled.tls, 'cpuPer1k'),
        ),
        row(
          'connection setup (pgbench -C: average connection time)',
          'ms',
          med(perConnection.plaintext, 'connectionMs'),
          med(perConnection.tls, 'connectionMs'),
          {
            headline: true,
            note: 'A new client connection per transaction: TCP + (TLS handshake, verify-ca) + SCRAM-less trust login at PgBouncer; server connections stay pooled.',
          },
        ),
        row(
          'throughput with a new connection per transaction',
          'tps',
          med(perConnection.plaintext, 'tps'),
          med(perConnection.tls, 'tps'),
        ),
        row(
          'host CPU per 1,000 transactions, new connection each',
          'CPU s',
          med(perConnection.plaintext, 'cpuPer1k'),
          med(perConnection.tls, 'cpuPer1k'),
        ),
        row(
          'failed transactions (all runs)',
          'transactions',
          sum([...pooled.plaintext, ...perConnection.plaintext]),
          sum([...pooled.tls, ...perConnection.tls]),
        ),
      ],
      method: [
        'One simulated fleet host (packages/local-stack/fleet.ts: HAProxy master-worker, PgBouncer, the health daemon, the bundle applied by the agent CLI) in front of a PostgreSQL primary + 1 streaming replica (pgbench tables at scale 1) serving TLS with a certificate of the stack CA.',
        "Ours (TLS): the host's PgBouncer, client_tls_sslmode = require with the operator-style certificate (clients pgbench/libpq sslmode=verify-ca against its CA) and server_tls_sslmode = verify-ca against the RDS CA stand-in through HAProxy's TCP passthrough. Baseline (plaintext): a second PgBouncer on the same address, client and server TLS disabled, in front of the same HAProxy listener and reader (which accepts plaintext for this benchmark only).",
        `Each round runs both sides one after the other (order alternating): pgbench -n -S -c ${CLIENTS} -j 2 -T ${SECONDS} (pooled), then pgbench -n -S -C -c ${Math.max(1, CLIENTS / 2)} -j 2 -T ${SECONDS} (new connection per transaction); ${ROUNDS} rounds, medians reported. Host CPU = utime+stime of the HAProxy and serving PgBouncer process trees from /proc over the run, per 1,000 transactions.`,
        `Shared 2-core machine: 1-minute load average at the start of each run ${loads.map((l) => l.toFixed(1)).join(', ')}.`,
      ],
    };
  } finally {
    await plain?.stop();
    await ours?.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const tlsCost: Benchmark = {
  name: 'tls-cost',
  figure: 15,
  title: 'TLS on both sides vs plaintext: pooled throughput, connection setup, host CPU',
  run,
};
