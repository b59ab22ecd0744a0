import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../packages/local-stack/process/ports';
import { sleep } from '../../../packages/local-stack/process/wait';
import { type BenchNames, namedCertificates, startBenchNames, USE_NAMES } from '../lib/bench-names';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { isDown, isUp, waitForStatuses } from '../lib/haproxy-stat';
import {
  type BaselineHost,
  clientTlsSsl,
  type OursHost,
  startBaselineHost,
  startOursHost,
} from '../lib/hosts';
import { baselineClusterOf, type ClusterSpec, renderSpecs, specMembers } from '../lib/ours-stack';
import {
  convergence,
  newConnectionLoop,
  pooledLoop,
  promotionMoment,
  type ReadLoop,
} from '../lib/read-loops';
import { type BenchRow, row } from '../lib/result';
import { max, median } from '../lib/stats';

/**
 * Figure 3: failover convergence. Each trial: a fresh simulated Aurora cluster (PostgreSQL
 * primary + 2 replicas), ours and the baseline both serving it on the same machine; read
 * loops through each; then the failover (writer stopped, replica1 promoted, replica2
 * repointed) and the time from the promotion to the last read the new writer answered.
 */
const TRIALS = Number(process.env.BENCH_FAILOVER_TRIALS ?? 10);
const OBSERVE_MS = Number(process.env.BENCH_FAILOVER_OBSERVE_MS ?? 7000);
const CLUSTER_ID = 'fo';

function spec(pg: PostgresCluster, port: number): ClusterSpec {
  return {
    clusterId: CLUSTER_ID,
    port,
    members: specMembers(CLUSTER_ID, pg),
  };
}

interface Trial {
  oursNew: ReturnType<typeof convergence>;
  oursPooled: ReturnType<typeof convergence>;
  baseNew: ReturnType<typeof convergence>;
  basePooled: ReturnType<typeof convergence>;
  oursErrors: number;
  baseErrors: number;
}

async function trial(
  ours: OursHost,
  base: BaselineHost | undefined,
  ports: { ours: number; base: number },
  names: BenchNames | undefined,
): Promise<{ trial: Trial; base: BaselineHost }> {
  const pg = await startPostgresCluster({
    replicas: 2,
    ...(names ? { tls: namedCertificates(CLUSTER_ID) } : {}),
  });
  const loops: ReadLoop[] = [];
  try {
    const s = spec(pg, ports.ours);
    // Ours lists the members by their endpoint names (HAProxy resolves and follows them).
    const bundle = renderSpecs([names ? await names.named(s) : s]);
    const baseCluster = baselineClusterOf({ ...s, port: ports.base }, { includeWriter: true });
    let baseHost = base;
    if (baseHost) await baseHost.rewriteAndReload([baseCluster]);
    else baseHost = await startBaselineHost([baseCluster]);
    const applied = await ours.apply(bundle);
    if (!applied.result.ok) throw new Error(`ours apply failed: ${applied.result.error}`);
    const cluster = bundle.clusters[0];
    await waitForStatuses(
      ours.haproxy,
      new Map(
        cluster?.servers
          .filter((x) => x.role === 'reader')
          .map((x) => [`${cluster.backend}/${x.name}`, isUp]),
      ),
    );
    await waitForStatuses(
      baseHost.haproxy,
      new Map(
        s.members.map((m) => [`${baseCluster.name}/${m.instanceId}`, m.isWriter ? isDown : isUp]),
      ),
      30_000,
    );
    const oursNew = newConnectionLoop({
      host: ours.instance.host.listenAddress,
      port: ports.ours,
      database: 'postgres',
      ssl: pg.sslThroughProxy(),
    });
    const oursSsl = clientTlsSsl(ours);
    const oursPooled = pooledLoop(
      {
        host: ours.pgbouncer.host,
        port: ours.pgbouncer.port,
        database: CLUSTER_ID,
        ...(oursSsl ? { ssl: oursSsl } : {}),
      },
      4,
    );
    const baseNew = newConnectionLoop({
      host: '127.0.0.3',
      port: ports.base,
      database: 'postgres',
      ssl: pg.sslThroughProxy(),
    });
    const basePooled = pooledLoop(
      { host: baseHost.pgbouncer.host, port: baseHost.pgbouncer.port, database: baseCluster.name },
      4,
    );
    loops.push(oursNew, oursPooled, baseNew, basePooled);
    await sleep(1500);
    const replica = pg.replicas()[0]?.name as string;
    await pg.stopNode('primary');
    const promotedAt = await promotionMoment(pg.node(replica), () => pg.promote(replica));
    await pg.repoint(replica);
    await sleep(OBSERVE_MS);
    const end = Date.now();
    await Promise.all(loops.map((l) => l.stop()));
    const errorsAfter = (l: ReadLoop) => l.errors.filter((t) => t >= promotedAt - 2000).length;
    return {
      base: baseHost,
      trial: {
        oursNew: convergence(oursNew, promotedAt, end),
        oursPooled: convergence(oursPooled, promotedAt, end),
        baseNew: convergence(baseNew, promotedAt, end),
        basePooled: convergence(basePooled, promotedAt, end),
        oursErrors: errorsAfter(oursNew) + errorsAfter(oursPooled),
        baseErrors: errorsAfter(baseNew) + errorsAfter(basePooled),
      },
    };
  } finally {
    await Promise.all(loops.map((l) => l.stop()));
    await pg.stop();
  }
}

async function run(): Promise<BenchOutcome> {
  const names = USE_NAMES ? await startBenchNames() : undefined;
  let ours: OursHost;
  try {
    // On the AWS-like stack the host serves TLS to its clients, as the fleet does by default.
    ours = await startOursHost(names ? { nameserver: names.nameserver, clientTls: true } : {});
  } catch (error) {
    await names?.stop();
    throw error;
  }
  let base: BaselineHost | undefined;
  const trials: Trial[] = [];
  try {
    const ports = { ours: await freePort(), base: await freePort() };
    for (let i = 0; i < TRIALS; i++) {
      const t = await trial(ours, base, ports, names);
      base = t.base;
      trials.push(t.trial);
      process.stdout.write(
        `   trial ${i + 1}: new-conn ours ${t.trial.oursNew.ms} ms / base ${t.trial.baseNew.ms} ms; pooled ours ${t.trial.oursPooled.ms}${t.trial.oursPooled.censored ? '+' : ''} ms / base ${t.trial.basePooled.ms}${t.trial.basePooled.censored ? '+' : ''} ms\n`,
      );
    }
  } finally {
    await base?.stop();
    await ours.stop();
    await names?.stop();
  }
  const ms = (f: (t: Trial) => ReturnType<typeof convergence>) => trials.map((t) => f(t).ms / 1000);
  const censored = (f: (t: Trial) => ReturnType<typeof convergence>) =>
    trials.filter((t) => f(t).censored).length;
  const note = (f: (t: Trial) => ReturnType<typeof convergence>) => {
    const c = censored(f);
    return c
      ? `${c} of ${trials.length} trials still served by the writer when the ${OBSERVE_MS / 1000} s window ended (counted as the window)`
      : undefined;
  };
  const cap = (xs: number[]) => xs;
  const rows: BenchRow[] = [];
  const pair = (
    label: string,
    o: (t: Trial) => ReturnType<typeof convergence>,
    b: (t: Trial) => ReturnType<typeof convergence>,
    target: boolean,
  ) => {
    const om = median(cap(ms(o)));
    const bm = median(cap(ms(b)));
    const ox = max(ms(o));
    const bx = max(ms(b));
    const notes = [note(o) && `ours: ${note(o)}`, note(b) && `baseline: ${note(b)}`]
      .filter(Boolean)
      .join('; ');
    rows.push(
      row(`${label}: median`, 's', bm, om, {
        ...(target
          ? {
              target: '≤ 1 s and ≤ 0.2 × baseline',
              met: om <= 1 && om <= 0.2 * bm && censored(o) === 0,
            }
          : {}),
        ...(notes ? { note: notes } : {}),
        headline: true,
      }),
      row(
        `${label}: max`,
        's',
        bx,
        ox,
        target ? { target: '≤ 1 s', met: ox <= 1 && censored(o) === 0 } : {},
      ),
    );
  };
  pair(
    'promotion → last read answered by the new writer, new connection per read (routing)',
    (t) => t.oursNew,
    (t) => t.baseNew,
    true,
  );
  pair(
    'promotion → last read answered by the new writer, pooled through PgBouncer (what clients see)',
    (t) => t.oursPooled,
    (t) => t.basePooled,
    true,
  );
  rows.push(
    row(
      'failed reads around the failover (per trial, median)',
      'reads',
      median(trials.map((t) => t.baseErrors)),
      median(trials.map((t) => t.oursErrors)),
      {
        note: 'connection errors from 2 s before the promotion to the end of the window (the stopped writer cuts its sessions)',
      },
    ),
  );
  return {
    status: 'measured',
    rows,
    method: [
      `${trials.length} trials. Each: a fresh PostgreSQL primary + 2 streaming replicas (version: machine.postgresql); ours (a simulated fleet host: HAProxy with the rendered bundle applied by the agent, agent daemon probing every 250 ms and pushing verdict flips to the runtime API, PgBouncer) and the baseline (seed-style config listing all 3 members, psql external check inter 2s fall 3 rise 2, PgBouncer) serve it side by side.`,
      "Per side two read loops run `SELECT pg_is_in_recovery()`: one opening a new connection per read directly to the HAProxy listener (the routing decision), one over 4 client connections held through PgBouncer (transaction pooling, what applications see). With leastconn (ours) a short new connection goes to the reader holding fewer pooled sessions, so in some trials ours' new-connection loop never reached the promoted reader at all (0 s); the pooled loop, which always has sessions on both readers, is the stricter measure.",
      `Failover like Aurora's: the writer is stopped (immediate), replica1 promoted (pg_promote), replica2 repointed. Convergence = time from the promotion (the first moment the promoted node, polled every 5 ms on a connection of its own, answers pg_is_in_recovery() = false) to the last read answered with pg_is_in_recovery() = false (0 if none). The window is ${OBSERVE_MS / 1000} s; a loop that still reached the writer in its last second is counted as the window (a lower bound).`,
      "Pooled sessions leave a server only if HAProxy cuts them when it marks the server down: ours renders `on-marked-down shutdown-sessions`; the seed-style config keeps HAProxy's default (sessions stay), so the baseline's pooled loop keeps reaching the promoted writer until PgBouncer's server_lifetime (3600 s by default).",
      'The orchestrator is not involved: this is detection by the health checks alone (ours later also re-renders the topology, which removes the new writer from the reader slots).',
      names
        ? "Addresses: ours lists the members by their instance endpoint names (`<instance>.<hash>.<region>.rds.amazonaws.test`, as RDS's Endpoint.Address), served by the local stack's DNS server (dnsmasq on loopback, 5 s TTL), the host's nameserver setting: HAProxy resolves them through its resolvers section and the daemon probes verify-full by name. The baseline lists IP literals (the seed resolved names once, at HAProxy's start, through the machine's resolver). The simulated nodes serve TLS only (PgBouncer -> HAProxy -> reader verify-ca). Ours serves TLS to its clients as the fleet does (client_tls_sslmode = require): its pooled read loop connects with verify-ca; the seed-style baseline's PgBouncer takes plaintext clients, as the seed did."
        : 'Addresses: IP literals on both sides (BENCH_ADDRESSES=ip).',
    ],
  };
}

export const failover: Benchmark = {
  name: 'failover',
  figure: 3,
  title: 'Failover convergence',
  run,
};
