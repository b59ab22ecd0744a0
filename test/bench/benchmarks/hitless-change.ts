import type { Bundle } from '@aurora-haproxy/contract/bundle';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../packages/local-stack/process/ports';
import { sleep } from '../../../packages/local-stack/process/wait';
import { type BenchNames, namedCertificates, startBenchNames, USE_NAMES } from '../lib/bench-names';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { isUp, waitForStatuses } from '../lib/haproxy-stat';
import {
  type BaselineHost,
  clientTlsEnv,
  type OursHost,
  startBaselineHost,
  startOursHost,
} from '../lib/hosts';
import { baselineClusterOf, type ClusterSpec, renderSpecs, specMembers } from '../lib/ours-stack';
import { type PgbenchRun, pgbenchInit, startPgbench } from '../lib/pgbench';
import { reapedChildrenCpuSeconds } from '../lib/proc-cpu';
import { type BenchRow, row } from '../lib/result';
import { median, min } from '../lib/stats';

/**
 * Figure 4: 50 reader changes (a third replica added, removed, added, …) applied while
 * pgbench -S runs through PgBouncer. Ours: the agent applies each bundle (runtime API, no
 * reload); baseline: rewrite + reload. Same PostgreSQL nodes, one side after the other.
 */
const CHANGES = Number(process.env.BENCH_HITLESS_CHANGES ?? 50);
const QUIET_S = 4;
const CLUSTER_ID = 'hc';

function spec(pg: PostgresCluster, port: number, withThird: boolean): ClusterSpec {
  const third = pg.replicas()[2]?.name;
  return {
    clusterId: CLUSTER_ID,
    port,
    members: specMembers(CLUSTER_ID, pg, withThird ? undefined : third),
  };
}

/** Reads the writer served: index scans of pgbench_accounts on the primary. */
async function writerReads(pg: PostgresCluster): Promise<number> {
  const r = await pg.query<{ n: string }>(
    'primary',
    "SELECT pg_stat_clear_snapshot(), coalesce(idx_scan, 0)::text AS n FROM pg_stat_user_tables WHERE relname = 'pgbench_accounts'",
  );
  return Number(r.rows[0]?.n ?? 0);
}

interface Side {
  bench: PgbenchRun;
  reloads: number;
  changeSeconds: number;
  writerReads: number;
  actions: Record<string, number>;
}

function tpsFigures(run: PgbenchRun, changeSeconds: number) {
  const before = run.perSecond.slice(0, QUIET_S - 1);
  const during = run.perSecond.slice(QUIET_S, QUIET_S + Math.max(1, Math.floor(changeSeconds)));
  const base = median(before);
  return {
    quiet: base,
    during: median(during),
    dipPercent: during.length ? (100 * (base - min(during))) / base : Number.NaN,
  };
}

async function run(): Promise<BenchOutcome> {
  const pg = await startPostgresCluster({
    replicas: 3,
    ...(USE_NAMES ? { tls: namedCertificates(CLUSTER_ID) } : {}),
  });
  let ours: OursHost | undefined;
  let base: BaselineHost | undefined;
  let names: BenchNames | undefined;
  try {
    await pgbenchInit(pg.primary().host, pg.primary().port);
    await pg.waitForReplication();
    const port = await freePort();

    // Ours first: the agent applies A, then 50 changes back to back; pgbench throughout.
    if (USE_NAMES) {
      names = await startBenchNames();
      // Every member's name served once, before the changes (a change moves no name).
      await names.named(spec(pg, port, true));
    }
    const dns = names;
    // Ours lists the members by their endpoint names (HAProxy resolves and follows them).
    const oursSpec = async (third: boolean) => {
      const s = spec(pg, port, third);
      return dns ? await dns.named(s) : s;
    };
    // On the AWS-like stack the host serves TLS to its clients, as the fleet does by default.
    ours = await startOursHost(dns ? { nameserver: dns.nameserver, clientTls: true } : {});
    const host = ours;
    let previous: Bundle = renderSpecs([await oursSpec(false)]);
    const first = await host.apply(previous);
    if (!first.result.ok) throw new Error(`ours apply failed: ${first.result.error}`);
    const c0 = previous.clusters[0];
    await waitForStatuses(
      host.haproxy,
      new Map(c0?.servers.map((s) => [`${c0.backend}/${s.name}`, isUp])),
    );
    const reloads0 = (await host.haproxy.showProc()).master.reloads;
    const writer0 = await writerReads(pg);
    const oursBench = startPgbench({
      host: host.pgbouncer.host,
      port: host.pgbouncer.port,
      database: CLUSTER_ID,
      clients: 8,
      seconds: 900,
      env: clientTlsEnv(host),
    });
    await sleep(QUIET_S * 1000);
    const actions: Record<string, number> = {};
    const agentCpu0 = reapedChildrenCpuSeconds();
    const t0 = performance.now();
    for (let i = 0; i < CHANGES; i++) {
      const next = renderSpecs([await oursSpec(i % 2 === 0)], previous);
      const applied = await host.apply(next);
      if (!applied.result.ok)
        throw new Error(`ours apply ${i + 1} failed: ${applied.result.error}`);
      actions[applied.result.action] = (actions[applied.result.action] ?? 0) + 1;
      previous = next;
    }
    const changeSeconds = (performance.now() - t0) / 1000;
    const agentCpuPerApply = (reapedChildrenCpuSeconds() - agentCpu0) / CHANGES;
    await sleep(2000);
    const oursRun = await oursBench.stop();
    const oursSide: Side = {
      bench: oursRun,
      reloads: (await host.haproxy.showProc()).master.reloads - reloads0,
      changeSeconds,
      writerReads: (await writerReads(pg)) - writer0,
      actions,
    };
    await ours.stop();
    ours = undefined;

    // Baseline: the same 50 changes at the same pace, each a rewrite + reload.
    const baseSpec = (third: boolean) =>
      baselineClusterOf(spec(pg, port, third), { includeWriter: true });
    base = await startBaselineHost([baseSpec(false)]);
    const bh = base;
    await waitForStatuses(
      bh.haproxy,
      new Map(
        spec(pg, port, false).members.map((m) => [
          `${CLUSTER_ID}/${m.instanceId}`,
          m.isWriter ? (s: string) => s.startsWith('DOWN') : isUp,
        ]),
      ),
      30_000,
    );
    const breloads0 = (await bh.haproxy.showProc()).master.reloads;
    const bwriter0 = await writerReads(pg);
    const baseBench = startPgbench({
      host: bh.pgbouncer.host,
      port: bh.pgbouncer.port,
      database: CLUSTER_ID,
      clients: 8,
      seconds: 900,
    });
    await sleep(QUIET_S * 1000);
    const interval = (changeSeconds * 1000) / CHANGES;
    const b0 = performance.now();
    for (let i = 0; i < CHANGES; i++) {
      await bh.rewriteAndReload([baseSpec(i % 2 === 0)]);
      await sleep(Math.max(0, b0 + (i + 1) * interval - performance.now()));
    }
    const baseChangeSeconds = (performance.now() - b0) / 1000;
    await sleep(2000);
    const baseRun = await baseBench.stop();
    const baseSide: Side = {
      bench: baseRun,
      reloads: (await bh.haproxy.showProc()).master.reloads - breloads0,
      changeSeconds: baseChangeSeconds,
      writerReads: (await writerReads(pg)) - bwriter0,
      actions: { reload: CHANGES },
    };

    const ot = tpsFigures(oursSide.bench, oursSide.changeSeconds);
    const bt = tpsFigures(baseSide.bench, baseSide.changeSeconds);
    const failed = (s: Side) => s.bench.failed + s.bench.abortedClients;
    const rows: BenchRow[] = [
      row(
        'failed transactions + aborted pgbench clients',
        'count',
        failed(baseSide),
        failed(oursSide),
        { target: '0', met: failed(oursSide) === 0, headline: true },
      ),
      row(
        `HAProxy reloads during the ${CHANGES} changes`,
        'reloads',
        baseSide.reloads,
        oursSide.reloads,
        {
          target: '0',
          met: oursSide.reloads === 0,
          note: `ours apply actions: ${JSON.stringify(oursSide.actions)}`,
          headline: true,
        },
      ),
      row(
        'tps dip: lowest 1-s tps during the changes vs before',
        '%',
        bt.dipPercent,
        ot.dipPercent,
      ),
      row(
        'median tps during the changes, as % of the same side before them',
        '%',
        (100 * bt.during) / bt.quiet,
        (100 * ot.during) / ot.quiet,
        {
          note: `absolute median tps before → during: baseline ${bt.quiet.toFixed(0)} → ${bt.during.toFixed(0)}, ours ${ot.quiet.toFixed(0)} → ${ot.during.toFixed(0)} (the sides ran one after the other on a shared machine: compare each with itself). Each of ours' changes runs one agent process (${agentCpuPerApply.toFixed(2)} CPU-s each here) and, when a reader leaves, drains its slot and has PgBouncer RECONNECT, which re-opens pooled server connections`,
        },
      ),
      row(
        'reads answered by the writer during the run',
        'reads',
        baseSide.writerReads,
        oursSide.writerReads,
        { note: 'index scans of pgbench_accounts on the primary' },
      ),
      row(
        `time to apply the ${CHANGES} changes`,
        's',
        baseSide.changeSeconds,
        oursSide.changeSeconds,
        {
          note: 'ours back to back (one agent process per change); the baseline paced to the same duration',
        },
      ),
    ];
    return {
      status: 'measured',
      rows,
      method: [
        `PostgreSQL primary + 3 replicas (pgbench -i -s 1). ${CHANGES} changes alternate the reader set between {replica1, replica2} and {replica1, replica2, replica3} (${CHANGES / 2} adds, ${CHANGES / 2} removes).`,
        'Ours: a simulated fleet host; each change is a rendered bundle (previous bundle given, so readers keep their slots) applied by the agent CLI (`apply --bundle-file`), back to back. Baseline: the seed-style config (every member listed, the writer kept out only by its psql check) rewritten in place and reloaded (SIGUSR2 to the master, no validation, no server-state file), at the same pace.',
        `pgbench -n -S -c 8 -j 2 -P 1 through each side's PgBouncer (transaction pooling) for the whole run, ${QUIET_S} s before the first change. pgbench is ended 2 s after the last change (SIGINT), so its figures come from its per-second progress and the abort lines it prints as they happen. Failed = clients aborted on an error (a select-only script has no serialization failures). Reloads = the HAProxy master's reload counter (show proc). Reads answered by the writer = idx_scan delta of pgbench_accounts on the primary.`,
        'The sides ran one after the other on the same PostgreSQL nodes (ours first).',
        USE_NAMES
          ? "Addresses: ours lists the members by their instance endpoint names (`<instance>.<hash>.<region>.rds.amazonaws.test`, as RDS's Endpoint.Address), served by the local stack's DNS server (dnsmasq on loopback, 5 s TTL), the host's nameserver setting: a reader joining a slot is set by the runtime API with `addr` then `fqdn` (HAProxy's resolvers follow the name), and the daemon probes verify-full by name. The baseline lists IP literals (the seed resolved names once, at HAProxy's start, through the machine's resolver). The simulated nodes serve TLS only (PgBouncer -> HAProxy -> reader verify-ca). Ours serves TLS to its clients as the fleet does (client_tls_sslmode = require): its pgbench connects with sslmode=verify-ca; the seed-style baseline's PgBouncer takes plaintext clients, as the seed did."
          : 'Addresses: IP literals on both sides (BENCH_ADDRESSES=ip).',
      ],
    };
  } finally {
    await ours?.stop();
    await base?.stop();
    await names?.stop();
    await pg.stop();
  }
}

export const hitlessChange: Benchmark = {
  name: 'hitless-change',
  figure: 4,
  title: 'Hitless change',
  run,
};
