import { readFileSync } from 'node:fs';
import { startPostgresCluster } from '../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../packages/local-stack/process/ports';
import { waitFor } from '../../../packages/local-stack/process/wait';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { type OursHost, startOursHost } from '../lib/hosts';
import { registryEntry, renderOurs } from '../lib/ours-stack';
import { pgbenchInit, startPgbench } from '../lib/pgbench';
import { type BenchRow, row } from '../lib/result';
import { median } from '../lib/stats';
import {
  allowPlaintext,
  measure,
  type Sample,
  type Side,
  type SideName,
  startSides,
} from '../lib/tls-sides';

/**
 * TLS vs plaintext (issue 9 item 6), split by side, same run, same HAProxy listener and
 * reader: four PgBouncers on one simulated fleet host (lib/tls-sides.ts): plaintext, client
 * TLS only, server TLS only, and the host's own (TLS on both sides, as the fleet runs it).
 * Each round runs every side (order rotated per round); medians over ROUNDS are reported.
 * - pooled: pgbench -S with CLIENTS connections held (server connections pooled);
 * - fixed rate: pgbench -S -R at half the plaintext side's pooled tps of the first round
 *   (plaintext and both sides): whether TLS costs throughput below saturation;
 * - connection setup: pgbench -S -C (plaintext and both sides);
 * - CPU per 1,000 transactions of each party from /proc: pgbench (the client), PgBouncer,
 *   HAProxy, the reader's PostgreSQL, and the whole machine.
 */
const CLIENTS = Number(process.env.BENCH_TLS_CLIENTS ?? 8);
const SECONDS = Number(process.env.BENCH_TLS_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_TLS_ROUNDS ?? 3);
const CLUSTER_ID = 'tls-cost';

type Runs = Record<SideName, Sample[]>;
const emptyRuns = (): Runs => ({
  plaintext: [],
  'client TLS only': [],
  'server TLS only': [],
  'TLS both sides': [],
});

const med = (samples: readonly Sample[], pick: (s: Sample) => number) => median(samples.map(pick));
const spread = (samples: readonly Sample[]) => samples.map((s) => Math.round(s.tps)).join(' / ');
const fixed = (n: number, digits = 3) => n.toFixed(digits);

function rows(pooled: Runs, rated: Runs, perConnection: Runs, rate: number): BenchRow[] {
  const plain = pooled.plaintext;
  const both = pooled['TLS both sides'];
  const variants: SideName[] = ['TLS both sides', 'client TLS only', 'server TLS only'];
  const loss = (side: SideName) => 1 - med(pooled[side], (s) => s.tps) / med(plain, (s) => s.tps);
  const cpuAll = (side: SideName) => med(pooled[side], (s) => s.cpuAll);
  const party = (key: keyof Sample['cpu']) => (side: SideName) =>
    med(pooled[side], (s) => s.cpu[key]);
  const others = (pick: (side: SideName) => number) =>
    `client TLS only ${fixed(pick('client TLS only'))}, server TLS only ${fixed(pick('server TLS only'))}`;
  const failed = (runs: Runs, side: SideName) => runs[side].reduce((a, s) => a + s.failed, 0);
  return [
    ...variants.map((side) =>
      row(
        `pooled pgbench -S throughput, ${side}`,
        'tps',
        med(plain, (s) => s.tps),
        med(pooled[side], (s) => s.tps),
        {
          ...(side === 'TLS both sides'
            ? {
                headline: true,
                target: '>= 0.95 x plaintext (<= 5 % loss)',
                met: loss(side) <= 0.05,
              }
            : {}),
          note: `${CLIENTS} clients held, ${SECONDS} s x ${ROUNDS} rounds; per round plaintext ${spread(plain)}, ${side} ${spread(pooled[side])}; loss ${(loss(side) * 100).toFixed(1)} %.`,
        },
      ),
    ),
    row(
      'pooled latency average, TLS both sides',
      'ms',
      med(plain, (s) => s.latencyMs),
      med(both, (s) => s.latencyMs),
    ),
    ...variants.map((side) =>
      row(
        `CPU per 1,000 pooled transactions, all parties (pgbench + PgBouncer + HAProxy + PostgreSQL), ${side}`,
        'CPU s',
        cpuAll('plaintext'),
        cpuAll(side),
        {
          ...(side === 'TLS both sides' ? { headline: true } : {}),
          note: `if the shared cores were the only limit, tps would be ${fixed(cpuAll('plaintext') / cpuAll(side), 2)} x plaintext (measured ${fixed(1 - loss(side), 2)} x).`,
        },
      ),
    ),
    ...(
      [
        ['pgbench', 'the client (pgbench, libpq)'],
        ['pgbouncer', 'PgBouncer'],
        ['haproxy', 'HAProxy (TCP passthrough)'],
        ['postgres', "the reader's PostgreSQL"],
      ] as const
    ).map(([key, label]) =>
      row(
        `CPU per 1,000 pooled transactions, ${label}, TLS both sides`,
        'CPU s',
        party(key)('plaintext'),
        party(key)('TLS both sides'),
        {
          note: others(party(key)),
        },
      ),
    ),
    row(
      'host CPU per 1,000 pooled transactions (HAProxy + PgBouncer: what a fleet host pays)',
      'CPU s',
      party('haproxy')('plaintext') + party('pgbouncer')('plaintext'),
      party('haproxy')('TLS both sides') + party('pgbouncer')('TLS both sides'),
    ),
    row(
      'PgBouncer CPU per wall second while pooled (single-threaded: 1 = saturated)',
      'CPU s / s',
      med(plain, (s) => s.pgbouncerBusy),
      med(both, (s) => s.pgbouncerBusy),
    ),
    row(
      'machine busy while pooled (2 cores: 2 = saturated; other engineers included)',
      'CPU s / s',
      med(plain, (s) => s.machineBusy),
      med(both, (s) => s.machineBusy),
      {
        note: `CPU of the whole machine per 1,000 transactions: plaintext ${fixed(med(plain, (s) => s.cpuMachine))}, TLS both sides ${fixed(med(both, (s) => s.cpuMachine))} (the four parties: ${fixed(cpuAll('plaintext'))} / ${fixed(cpuAll('TLS both sides'))}).`,
      },
    ),
    row(
      `fixed offered rate (pgbench -R ${rate}): throughput`,
      'tps',
      med(rated.plaintext, (s) => s.tps),
      med(rated['TLS both sides'], (s) => s.tps),
      {
        note: `half the plaintext pooled tps of the first round; per round plaintext ${spread(rated.plaintext)}, TLS both sides ${spread(rated['TLS both sides'])}.`,
      },
    ),
    row(
      `fixed offered rate (pgbench -R ${rate}): latency average`,
      'ms',
      med(rated.plaintext, (s) => s.latencyMs),
      med(rated['TLS both sides'], (s) => s.latencyMs),
    ),
    row(
      `fixed offered rate (pgbench -R ${rate}): CPU per 1,000 transactions, all parties`,
      'CPU s',
      med(rated.plaintext, (s) => s.cpuAll),
      med(rated['TLS both sides'], (s) => s.cpuAll),
    ),
    row(
      'connection setup (pgbench -C: average connection time)',
      'ms',
      med(perConnection.plaintext, (s) => s.connectionMs),
      med(perConnection['TLS both sides'], (s) => s.connectionMs),
      {
        headline: true,
        note: 'A new client connection per transaction: TCP + (TLS handshake, verify-ca) + SCRAM-less trust login at PgBouncer; server connections stay pooled.',
      },
    ),
    row(
      'throughput with a new connection per transaction',
      'tps',
      med(perConnection.plaintext, (s) => s.tps),
      med(perConnection['TLS both sides'], (s) => s.tps),
    ),
    row(
      'host CPU per 1,000 transactions, new connection each (HAProxy + PgBouncer)',
      'CPU s',
      med(perConnection.plaintext, (s) => s.cpu.haproxy + s.cpu.pgbouncer),
      med(perConnection['TLS both sides'], (s) => s.cpu.haproxy + s.cpu.pgbouncer),
    ),
    row(
      'failed transactions (all runs)',
      'transactions',
      failed(pooled, 'plaintext') + failed(rated, 'plaintext') + failed(perConnection, 'plaintext'),
      failed(pooled, 'TLS both sides') +
        failed(rated, 'TLS both sides') +
        failed(perConnection, 'TLS both sides'),
      {
        note: `client TLS only ${failed(pooled, 'client TLS only')}, server TLS only ${failed(pooled, 'server TLS only')}.`,
      },
    ),
  ];
}

async function run(): Promise<BenchOutcome> {
  const pg = await startPostgresCluster({ replicas: 1 });
  let ours: OursHost | undefined;
  let sides: Awaited<ReturnType<typeof startSides>> | undefined;
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
    sides = await startSides({ ours, alias, listenerPort: port });
    // Every side serves reads before measuring (the reader is UP in HAProxy).
    for (const side of sides.sides) {
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
    const context = { alias, haproxyPid: ours.haproxy.pid, readerPid: reader.pid };
    const pooled = emptyRuns();
    const rated = emptyRuns();
    const perConnection = emptyRuns();
    const loads: number[] = [];
    const pair = sides.sides.filter((s) => s.name === 'plaintext' || s.name === 'TLS both sides');
    let rate = 0;
    for (let round = 0; round < ROUNDS; round++) {
      loads.push(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]));
      const order: Side[] = sides.sides.map((_, i, all) => all[(i + round) % all.length] as Side);
      for (const side of order) {
        pooled[side.name].push(
          await measure(side, { ...context, clients: CLIENTS, seconds: SECONDS }),
        );
      }
      if (round === 0) rate = Math.max(100, Math.round((pooled.plaintext[0]?.tps ?? 0) / 2));
      for (const side of round % 2 === 0 ? pair : [...pair].reverse()) {
        rated[side.name].push(
          await measure(side, { ...context, clients: CLIENTS, seconds: SECONDS, rate }),
        );
        perConnection[side.name].push(
          await measure(side, {
            ...context,
            clients: Math.max(1, CLIENTS / 2),
            seconds: SECONDS,
            connectEach: true,
          }),
        );
      }
    }
    return {
      status: 'measured',
      rows: rows(pooled, rated, perConnection, rate),
      method: [
        'One simulated fleet host (packages/local-stack/fleet.ts: HAProxy master-worker, PgBouncer, the health daemon, the bundle applied by the agent CLI) in front of a PostgreSQL primary + 1 streaming replica (pgbench tables at scale 1) serving TLS with a certificate of the stack CA.',
        "Four PgBouncers on the host's address in front of the same HAProxy listener and reader: TLS both sides = the host's own (client_tls_sslmode = require with the operator-style certificate, clients pgbench/libpq sslmode=verify-ca; server_tls_sslmode = verify-ca against the RDS CA stand-in through HAProxy's TCP passthrough; negotiated TLS 1.3 TLS_AES_256_GCM_SHA384 on both hops); client TLS only, server TLS only and plaintext = the same settings (packages/local-stack/pgbouncer.ts, pool size 40) with the other side(s) disabled. The reader accepts plaintext for this benchmark only.",
        `Each round: pgbench -n -S -c ${CLIENTS} -j 2 -T ${SECONDS} (pooled) through each of the four, the order rotated per round; then, plaintext and TLS both sides only (order alternating), the same at a fixed rate (-R, half the plaintext tps of the first round) and pgbench -n -S -C -c ${Math.max(1, CLIENTS / 2)} -j 2 -T ${SECONDS} (a new connection per transaction). ${ROUNDS} rounds, medians reported.`,
        "CPU per 1,000 transactions from /proc over each run: pgbench (reaped child's utime+stime), the serving PgBouncer, HAProxy's process tree, the reader's postmaster tree (its backends), and /proc/stat for the whole machine (user+nice+system+irq+softirq, every process on it).",
        `Shared 2-core machine: 1-minute load average at the start of each round ${loads.map((l) => l.toFixed(1)).join(', ')}.`,
      ],
    };
  } finally {
    await sides?.stop();
    await ours?.stop();
    await pg.stop();
  }
}

export const tlsCost: Benchmark = {
  name: 'tls-cost',
  figure: 15,
  title:
    'TLS vs plaintext by side (client, server, both): pooled throughput, CPU per party, connection setup',
  run,
};
