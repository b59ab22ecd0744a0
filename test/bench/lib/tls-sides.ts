import { appendFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalPgbouncer, startLocalPgbouncer } from '../../../packages/local-stack/pgbouncer';
import type { PostgresCluster } from '../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../packages/local-stack/process/ports';
import { processCa } from '../../../packages/local-stack/tls/local-ca';
import type { OursHost } from './hosts';
import { startPgbench } from './pgbench';
import { machineBusySeconds, reapedChildrenCpuSeconds, treeCpuSeconds } from './proc-cpu';

/**
 * Figure 15's four PgBouncers on one simulated host, in front of the same HAProxy listener
 * and the same reader: plaintext, client-side TLS only, server-side TLS only, and TLS on both
 * sides (the host's own PgBouncer, as the fleet runs it). The three others are started here
 * with the same settings as the host's (packages/local-stack/pgbouncer.ts, pool size 40) except TLS.
 */
export type SideName = 'plaintext' | 'client TLS only' | 'server TLS only' | 'TLS both sides';

export interface Side {
  name: SideName;
  bouncer: { pid: number; host: string; port: number };
  /** libpq environment of pgbench for this side (sslmode verify-ca when the client side is TLS). */
  env: NodeJS.ProcessEnv;
}

/** CPU seconds per 1,000 transactions of each party of one run, and the run's figures. */
export interface Sample {
  tps: number;
  processed: number;
  failed: number;
  latencyMs: number;
  connectionMs: number;
  wallSeconds: number;
  cpu: { pgbench: number; pgbouncer: number; haproxy: number; postgres: number };
  /** The four parties together. */
  cpuAll: number;
  /** The whole machine's busy CPU seconds per 1,000 transactions (other engineers' included). */
  cpuMachine: number;
  /** CPU seconds of the serving PgBouncer per wall second (it is single-threaded: 1 = saturated). */
  pgbouncerBusy: number;
  /** The machine's busy CPU seconds per wall second (2 = both cores saturated). */
  machineBusy: number;
}

/** The reader also accepts plaintext (this benchmark's baselines only; the stack never does). */
export async function allowPlaintext(pg: PostgresCluster): Promise<void> {
  await Promise.all(
    pg.nodes().map(async (node) => {
      appendFileSync(join(node.dataDir, 'pg_hba.conf'), 'host all all 127.0.0.0/8 trust\n');
      await pg.query(node.name, 'SELECT pg_reload_conf()');
    }),
  );
}

export async function startSides(options: {
  ours: OursHost;
  alias: string;
  listenerPort: number;
}): Promise<{ sides: Side[]; stop(): Promise<void> }> {
  const { ours, alias, listenerPort } = options;
  const listen = ours.instance.host.listenAddress;
  const clientTls = ours.clientTls;
  if (!clientTls) throw new Error('the host serves no client TLS');
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-tls-'));
  chmodSync(dir, 0o755);
  const databasesFile = join(dir, 'databases.ini');
  writeFileSync(
    databasesFile,
    `[databases]\n${alias} = host=${listen} port=${listenerPort} dbname=postgres\n`,
  );
  chmodSync(databasesFile, 0o644);
  const started: LocalPgbouncer[] = [];
  const stop = async () => {
    await Promise.all(started.map((b) => b.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  const start = async (
    name: string,
    tls: Pick<Parameters<typeof startLocalPgbouncer>[0], 'clientTls' | 'serverTls'>,
  ) => {
    const bouncer = await startLocalPgbouncer({
      dir: join(dir, name),
      listenAddress: listen,
      port: await freePort(listen),
      socketDir: join(dir, `${name}-sockets`),
      databasesFile,
      defaultPoolSize: 40,
      ...tls,
    });
    started.push(bouncer);
    return bouncer;
  };
  try {
    const plain = { ...process.env, PGSSLMODE: 'disable' };
    const verified = { ...process.env, PGSSLMODE: 'verify-ca', PGSSLROOTCERT: clientTls.caFile };
    const sides: Side[] = [
      { name: 'plaintext', bouncer: await start('plaintext', {}), env: plain },
      {
        name: 'client TLS only',
        bouncer: await start('client-tls', {
          clientTls: { certFile: clientTls.certFile, keyFile: clientTls.keyFile },
        }),
        env: verified,
      },
      {
        name: 'server TLS only',
        bouncer: await start('server-tls', { serverTls: { caFile: processCa().caFile } }),
        env: plain,
      },
      { name: 'TLS both sides', bouncer: ours.pgbouncer, env: verified },
    ];
    return { sides, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One pgbench run through a side, with the CPU of every party around it from /proc. */
export async function measure(
  side: Side,
  options: {
    alias: string;
    haproxyPid: number;
    readerPid: number;
    clients: number;
    seconds: number;
    connectEach?: boolean;
    rate?: number;
  },
): Promise<Sample> {
  const trees = {
    pgbouncer: [side.bouncer.pid],
    haproxy: [options.haproxyPid],
    postgres: [options.readerPid],
  };
  const before = {
    pgbench: reapedChildrenCpuSeconds(),
    pgbouncer: treeCpuSeconds(trees.pgbouncer),
    haproxy: treeCpuSeconds(trees.haproxy),
    postgres: treeCpuSeconds(trees.postgres),
    machine: machineBusySeconds(),
    wall: performance.now(),
  };
  const run = await startPgbench({
    host: side.bouncer.host,
    port: side.bouncer.port,
    database: options.alias,
    clients: options.clients,
    seconds: options.seconds,
    env: side.env,
    ...(options.connectEach ? { connectEach: true } : {}),
    ...(options.rate ? { rate: options.rate } : {}),
  }).done;
  const wallSeconds = (performance.now() - before.wall) / 1000;
  const used = {
    // pgbench is this process's only child exiting in the window: its CPU is in our cutime.
    pgbench: reapedChildrenCpuSeconds() - before.pgbench,
    pgbouncer: treeCpuSeconds(trees.pgbouncer) - before.pgbouncer,
    haproxy: treeCpuSeconds(trees.haproxy) - before.haproxy,
    postgres: treeCpuSeconds(trees.postgres) - before.postgres,
  };
  const machine = machineBusySeconds() - before.machine;
  if (run.exitCode !== 0 && run.processed === 0) {
    throw new Error(`pgbench (${side.name}) processed nothing: ${run.stderrTail}`);
  }
  const per1k = (cpu: number) => (run.processed > 0 ? (cpu / run.processed) * 1000 : Number.NaN);
  const all = used.pgbench + used.pgbouncer + used.haproxy + used.postgres;
  return {
    tps: run.tps,
    processed: run.processed,
    failed: run.failed + run.abortedClients,
    latencyMs: run.latencyMs,
    connectionMs: run.connectionMs,
    wallSeconds,
    cpu: {
      pgbench: per1k(used.pgbench),
      pgbouncer: per1k(used.pgbouncer),
      haproxy: per1k(used.haproxy),
      postgres: per1k(used.postgres),
    },
    cpuAll: per1k(all),
    cpuMachine: per1k(machine),
    pgbouncerBusy: used.pgbouncer / wallSeconds,
    machineBusy: machine / wallSeconds,
  };
}
