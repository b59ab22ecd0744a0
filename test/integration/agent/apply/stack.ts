import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { silentLog } from '@aurora-haproxy/contract/log';
import {
  type ClusterOptions,
  ClusterOptionsSchema,
  type RegistryCluster,
} from '@aurora-haproxy/contract/registry';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import pg from 'pg';
import { applyBundle } from '../../../../agent/apply/apply';
import { createApplyDeps } from '../../../../agent/apply/deps';
import {
  type AgentConfig,
  type AgentConfigInput,
  parseAgentConfig,
} from '../../../../agent/config';
import { type HealthDaemon, runServe } from '../../../../agent/health/serve';
import { renderBundle } from '../../../../functions/render/render-bundle';
import {
  type LocalHaproxy,
  localHostValues,
  startLocalHaproxy,
} from '../../../../packages/local-stack/haproxy';
import {
  type LocalPgbouncer,
  startLocalPgbouncer,
} from '../../../../packages/local-stack/pgbouncer';
import {
  PG_BIN_DIR,
  type PgNode,
  type PostgresCluster,
  startPostgresCluster,
} from '../../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../../packages/local-stack/process/ports';

/**
 * One simulated HAProxy host for the agent's apply tests: a PostgreSQL primary + replicas,
 * HAProxy (master-worker) started on a bundle with no clusters, PgBouncer in front, an agent
 * config pointing at them. Bundles are made by the real renderBundle from a registry entry
 * and a topology built from the PostgreSQL nodes (the primary is the writer).
 */
export const REPO_ROOT = resolve(import.meta.dirname, '../../../..');
export const CLUSTER_ID = 'orders';
export const ALIAS = 'orders';

const execFileAsync = promisify(execFile);

export interface ApplyStack {
  dir: string;
  pg: PostgresCluster;
  haproxy: LocalHaproxy;
  pgbouncer: LocalPgbouncer;
  /** The health team's daemon (agent-check answers come from it). */
  health: HealthDaemon;
  config: AgentConfig;
  configPath: string;
  clusterPort: number;
  /** The bundle with no clusters HAProxy was started with. */
  emptyBundle: Bundle;
  /** Render a bundle serving these readers (the primary is always the writer in the topology). */
  render(readers: readonly PgNode[], options?: RenderOptions): Bundle;
  /** Write a bundle as a JSON file; returns its path. */
  bundleFile(bundle: Bundle): string;
  /** apply in this process (the same function the CLI calls). */
  apply(bundle: Bundle): Promise<AgentResult>;
  stop(): Promise<void>;
}

export interface RenderOptions {
  previous?: Bundle;
  port?: number;
  balance?: 'leastconn' | 'roundrobin' | 'random';
  azAffinity?: boolean;
  /** PostgreSQL node name -> the RDS AvailabilityZone its member reports. */
  zones?: ReadonlyMap<string, string>;
  /** More cluster options (pooling, slow start); checkMode and balance come from above. */
  options?: Partial<ClusterOptions>;
}

export async function startApplyStack(
  options: { replicas?: number /** This host's zone (AURORA_HAPROXY_AZ). */; hostAz?: string } = {},
): Promise<ApplyStack> {
  const dir = mkdtempSync(join(tmpdir(), 'ah-apply-'));
  chmodSync(dir, 0o755); // PgBouncer (user postgres) reads the databases include under it
  const stops: (() => Promise<void>)[] = [];
  try {
    const pg = await startPostgresCluster({ replicas: options.replicas ?? 2 });
    stops.push(() => pg.stop());
    const listenAddress = `127.0.${100 + Math.floor(Math.random() * 150)}.${2 + Math.floor(Math.random() * 250)}`;
    const [clusterPort, checkPort, pgbouncerPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const host = localHostValues(join(dir, 'host'), listenAddress, checkPort, options.hostAz);
    mkdirSync(join(dir, 'etc'), { recursive: true });
    mkdirSync(join(dir, 'state'), { recursive: true });
    const input: AgentConfigInput = {
      stateDir: join(dir, 'state'),
      haproxy: {
        binary: '/usr/sbin/haproxy',
        configPath: join(dir, 'etc', 'haproxy.cfg'),
        masterSocket: join(dir, 'haproxy', 'master.sock'),
        host,
        reloadTimeoutMs: 10_000,
      },
      pgbouncer: {
        databasesPath: join(dir, 'etc', 'pgbouncer-databases.ini'),
        admin: { host: listenAddress, port: pgbouncerPort, user: 'pgbouncer' },
      },
      health: {
        user: 'postgres',
        database: 'postgres',
        tls: { mode: 'verify-full', caBundlePath: pg.caFile },
      },
    };
    const config = parseAgentConfig(input);
    const configPath = join(dir, 'agent.json');
    writeFileSync(configPath, JSON.stringify(input, null, 2));

    const registry = (port: number, o: RenderOptions): RegistryCluster => ({
      clusterId: CLUSTER_ID,
      port,
      databases: [{ alias: ALIAS, dbname: 'postgres' }],
      options: ClusterOptionsSchema.parse({
        ...o.options,
        checkMode: 'agent',
        balance: o.balance ?? 'leastconn',
        ...(o.azAffinity !== undefined ? { azAffinity: o.azAffinity } : {}),
      }),
      version: 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    });
    const topology = (
      readers: readonly PgNode[],
      zones?: RenderOptions['zones'],
    ): ClusterTopology => ({
      clusterId: CLUSTER_ID,
      status: 'available',
      engine: 'aurora-postgresql',
      members: [pg.primary(), ...readers].map((node) => ({
        instanceId: `pg-${node.name}`,
        address: '127.0.0.1',
        port: node.port,
        isWriter: node.role === 'primary',
        status: 'available',
        instanceClass: 'db.r6g.large',
        ...(zones?.has(node.name) ? { az: zones.get(node.name) } : {}),
      })),
      observedAt: new Date().toISOString(),
      stale: false,
    });
    const render = (readers: readonly PgNode[], o: RenderOptions = {}) =>
      renderBundle(
        {
          clusters: [registry(o.port ?? clusterPort, o)],
          topologies: new Map([[CLUSTER_ID, topology(readers, o.zones)]]),
          previous: o.previous,
        },
        new Date(),
      );
    const emptyBundle = renderBundle({ clusters: [], topologies: new Map() }, new Date());
    // HAProxy starts on the empty bundle's files, as a host would before its first apply.
    writeFileSync(config.haproxy.configPath, emptyBundle.files.haproxy);
    writeFileSync(config.pgbouncer.databasesPath, emptyBundle.files.pgbouncerDatabases);

    const haproxy = await startLocalHaproxy({
      dir: join(dir, 'haproxy'),
      configPath: config.haproxy.configPath,
      host,
    });
    stops.push(() => haproxy.stop());
    const pgbouncer = await startLocalPgbouncer({
      dir: join(dir, 'pgbouncer'),
      listenAddress,
      port: pgbouncerPort,
      socketDir: host.socketDir,
      databasesFile: config.pgbouncer.databasesPath,
      serverTls: { caFile: pg.caFile },
    });
    stops.push(() => pgbouncer.stop());
    const health = await runServe(config.health, { log: silentLog });
    stops.push(() => health.close());

    let files = 0;
    return {
      dir,
      pg,
      haproxy,
      pgbouncer,
      health,
      config,
      configPath,
      clusterPort,
      emptyBundle,
      render,
      bundleFile(bundle) {
        const path = join(dir, `bundle-${++files}.json`);
        writeFileSync(path, JSON.stringify(bundle));
        return path;
      },
      apply: (bundle) =>
        applyBundle(
          { ...createApplyDeps(config), loadBundle: async () => bundle },
          { sha256: bundle.sha256 },
        ),
      async stop() {
        for (const stop of stops.reverse()) await stop().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw error;
  }
}

/** Build the agent once (the shipped single file) and run it as the SSM document would. */
export async function buildAgent(outDir: string): Promise<string> {
  const outfile = join(outDir, 'aurora-haproxy-agent.mjs');
  await execFileAsync(process.execPath, [
    join(REPO_ROOT, 'scripts/build-agent.mjs'),
    '--outfile',
    outfile,
  ]);
  return outfile;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
  /** ms from the `afterStderr` match to the exit (how long the rest of the run took). */
  afterMatchMs?: number;
}

export function runAgent(
  agent: string,
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    /**
     * SIGKILL `delayMs` after start, or after stderr first matches `afterStderr`, or as soon
     * as `when()` holds (polled every 5 ms; a point of the apply no log line marks).
     */
    kill?: { delayMs: number; afterStderr?: RegExp; when?: () => boolean };
  } = {},
): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [agent, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    let timer: NodeJS.Timeout | undefined;
    let matchedAt: number | undefined;
    const armKill = () => {
      matchedAt ??= performance.now();
      timer ??= setTimeout(() => child.kill('SIGKILL'), options.kill?.delayMs ?? 0);
    };
    const when = options.kill?.when;
    const stopTimers = () => {
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
    };
    const poll = when
      ? setInterval(() => {
          // A throwing predicate fails this run; in a timer it would be an uncaught exception.
          try {
            if (when()) armKill();
          } catch (error) {
            stopTimers();
            child.kill('SIGKILL');
            reject(error);
          }
        }, 5)
      : undefined;
    if (options.kill && !options.kill.afterStderr && !when) armKill();
    child.stderr.on('data', (c) => {
      stderr += c;
      if (options.kill?.afterStderr?.test(stderr)) armKill();
    });
    child.on('error', (error) => {
      stopTimers();
      reject(error);
    });
    child.on('close', (code, signal) => {
      stopTimers();
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        pid: child.pid ?? -1,
        afterMatchMs: matchedAt === undefined ? undefined : performance.now() - matchedAt,
      });
    });
  });
}

/**
 * What PgBouncer and HAProxy hold now, for a failure message: PgBouncer's SHOW DATABASES,
 * SHOW POOLS and SHOW SERVERS (admin console) and HAProxy's `show servers state`. Never throws:
 * a part that cannot be read says why.
 */
export async function describePoolerAndProxy(stack: ApplyStack): Promise<string> {
  const parts: string[] = [];
  const client = new pg.Client({ ...stack.pgbouncer.admin, database: 'pgbouncer' });
  client.on('error', () => {});
  try {
    await client.connect();
    for (const command of ['SHOW DATABASES', 'SHOW POOLS', 'SHOW SERVERS']) {
      const { rows } = await client.query(command);
      parts.push(`PgBouncer ${command}:\n${rows.map((r) => JSON.stringify(r)).join('\n')}`);
    }
  } catch (error) {
    parts.push(`PgBouncer admin console: ${errorMessage(error)}`);
  } finally {
    await client.end().catch(() => {});
  }
  try {
    parts.push(`HAProxy show servers state:\n${await stack.haproxy.runtime.dumpServersState()}`);
  } catch (error) {
    parts.push(`HAProxy show servers state: ${errorMessage(error)}`);
  }
  return parts.join('\n');
}

/** One psql query through PgBouncer (alias `orders`) -> HAProxy -> a server. */
export async function queryThroughPgbouncer(stack: ApplyStack, sql: string): Promise<string> {
  const { stdout } = await execFileAsync(
    join(PG_BIN_DIR, 'psql'),
    [
      '-X',
      '-A',
      '-t',
      '-h',
      stack.pgbouncer.host,
      '-p',
      String(stack.pgbouncer.port),
      '-U',
      'postgres',
      '-d',
      ALIAS,
      '-c',
      sql,
    ],
    { timeout: 10_000 },
  );
  return stdout.trim();
}

export function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
