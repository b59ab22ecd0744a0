import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import {
  type ClusterOptions,
  ClusterOptionsSchema,
  type RegistryCluster,
} from '@aurora-haproxy/contract/registry';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import { renderBundle } from '../../../functions/render/render-bundle';
import type { PostgresCluster } from '../../../packages/local-stack/postgres-cluster';
import { startProcess } from '../../../packages/local-stack/process/managed-process';
import { freePort } from '../../../packages/local-stack/process/ports';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { instanceIdFor } from '../../../packages/local-stack/rds-standin/simulated-nodes';
import { processCa } from '../../../packages/local-stack/tls/local-ca';
import { agentBundle } from './agent-bundle';
import { REPO_ROOT } from './paths';

/**
 * Ours, assembled from the other teams' parts for the benchmarks: registry entries and
 * topologies built from live postgres-cluster.ts clusters, rendered with functions/render,
 * and the agent's health daemon in its own process. Nothing here re-implements their logic.
 */
const NOW = '2026-01-01T00:00:00.000Z';

export interface SimulatedCluster {
  clusterId: string;
  port: number;
  pg: PostgresCluster;
  options?: Partial<ClusterOptions>;
}

export function registryEntry(
  c: Pick<SimulatedCluster, 'clusterId' | 'port' | 'options'>,
): RegistryCluster {
  return {
    clusterId: c.clusterId,
    port: c.port,
    databases: [{ alias: c.clusterId.replace(/-/g, '_'), dbname: 'postgres' }],
    options: ClusterOptionsSchema.parse(c.options ?? {}),
    version: 1,
    createdAt: NOW,
    updatedAt: NOW,
  };
}

/** The topology RDS would report: every running node, the primary as writer. */
export function topologyOf(c: SimulatedCluster): ClusterTopology {
  return {
    clusterId: c.clusterId,
    status: 'available',
    engine: 'aurora-postgresql',
    members: c.pg
      .nodes()
      .filter((n) => n.running)
      .map((n) => ({
        instanceId: instanceIdFor(c.clusterId, n.name),
        address: n.host,
        port: n.port,
        isWriter: n.role === 'primary',
        status: 'available',
        instanceClass: 'db.r6g.large',
        az: 'eu-west-1a',
      })),
    observedAt: new Date().toISOString(),
    stale: false,
  };
}

export function renderOurs(clusters: readonly SimulatedCluster[], previous?: Bundle): Bundle {
  return renderBundle(
    {
      clusters: clusters.map(registryEntry),
      topologies: new Map(clusters.map((c) => [c.clusterId, topologyOf(c)])),
      previous,
    },
    new Date(),
  );
}

/** What apply leaves for the daemon: <stateDir>/applied-bundle.json, written atomically. */
export function writeAppliedBundle(stateDir: string, bundle: Bundle): void {
  mkdirSync(stateDir, { recursive: true });
  const file = join(stateDir, 'applied-bundle.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(bundle));
  renameSync(`${file}.tmp`, file);
}

export interface RunningDaemon {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/**
 * The health daemon as a host runs it: `aurora-haproxy-agent serve` (the bundled agent CLI)
 * with an agent config whose health section probes as user postgres (trust, local only).
 */
export async function startHealthDaemon(options: {
  stateDir: string;
  logDir: string;
  statsSocketPath?: string;
  port?: number;
}): Promise<RunningDaemon> {
  const port = options.port ?? (await freePort());
  const configPath = join(options.logDir, `agent-${port}.json`);
  writeFileSync(
    configPath,
    JSON.stringify({
      stateDir: options.stateDir,
      health: {
        checkPort: port,
        stateDir: options.stateDir,
        user: 'postgres',
        database: 'postgres',
        credentials: { mode: 'none' },
        tls: { mode: 'verify-full', caBundlePath: processCa().caFile },
        ...(options.statsSocketPath ? { statsSocketPath: options.statsSocketPath } : {}),
      },
    }),
  );
  const proc = startProcess({
    name: 'health-daemon',
    command: process.execPath,
    args: [...(await agentBundle()), '--config', configPath, 'serve'],
    cwd: REPO_ROOT,
    logFile: join(options.logDir, `health-daemon-${port}.log`),
  });
  await waitFor(
    'the health daemon to answer on its check port',
    async () => {
      if (!proc.running) throw new Error(`health daemon exited; see ${options.logDir}`);
      return (await askDaemon(port, 'status')).startsWith('{');
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return { pid: proc.pid, port, stop: () => proc.stop() };
}

/** One request line to the daemon's check listener; its one-line reply. */
export function askDaemon(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('no reply')));
    socket.on('connect', () => socket.write(`${line}\n`));
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(data.trim()));
  });
}

/** Wait until the daemon says every server of the bundle passes or fails as expected. */
export async function waitForVerdicts(
  port: number,
  expectPass: (slotKey: string) => boolean,
): Promise<void> {
  await waitFor(
    'the health daemon to have fresh verdicts',
    async () => {
      const status = JSON.parse(await askDaemon(port, 'status')) as {
        slots: { slot: string; pass: boolean }[];
      };
      return status.slots.length > 0 && status.slots.every((s) => s.pass === expectPass(s.slot));
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}

/** A cluster as the benchmarks describe it: members with explicit addresses. */
export interface ClusterSpec {
  clusterId: string;
  port: number;
  options?: Partial<ClusterOptions>;
  members: { instanceId: string; address: string; port: number; isWriter: boolean }[];
}

/** A local PostgreSQL cluster's nodes as spec members (the primary as writer), less `without`. */
export function specMembers(
  clusterId: string,
  pg: PostgresCluster,
  without?: string,
): ClusterSpec['members'] {
  return pg
    .nodes()
    .filter((n) => n.name !== without)
    .map((n) => ({
      instanceId: instanceIdFor(clusterId, n.name),
      address: n.host,
      port: n.port,
      isWriter: n.role === 'primary',
    }));
}

/** Render ours for explicit cluster specs (RDS would report exactly these members). */
export function renderSpecs(specs: readonly ClusterSpec[], previous?: Bundle): Bundle {
  return renderBundle(
    {
      clusters: specs.map(registryEntry),
      topologies: new Map(
        specs.map((s) => [
          s.clusterId,
          {
            clusterId: s.clusterId,
            status: 'available',
            engine: 'aurora-postgresql',
            members: s.members.map((m) => ({
              ...m,
              status: 'available',
              instanceClass: 'db.r6g.large',
              az: 'eu-west-1a',
            })),
            observedAt: new Date().toISOString(),
            stale: false,
          },
        ]),
      ),
      previous,
    },
    new Date(),
  );
}

/** The same cluster spec for the seed-style baseline: readers only, or every member. */
export function baselineClusterOf(
  spec: ClusterSpec,
  options: { includeWriter: boolean },
): { name: string; port: number; servers: { name: string; address: string; port: number }[] } {
  return {
    name: spec.clusterId.replace(/-/g, '_'),
    port: spec.port,
    servers: spec.members
      .filter((m) => options.includeWriter || !m.isWriter)
      .map((m) => ({ name: m.instanceId, address: m.address, port: m.port })),
  };
}
