import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import {
  type ClusterOptions,
  ClusterOptionsSchema,
  type RegistryCluster,
} from '@aurora-haproxy/contract/registry';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import type { HostValues } from '../../../../agent/config';
import { sendSocketCommand } from '../../../../agent/haproxy/unix-socket';
import type { HealthConfigInput } from '../../../../agent/health/config';
import { renderBundle } from '../../../../functions/render/render-bundle';
import {
  type LocalHaproxy,
  localHostValues,
  startLocalHaproxy,
} from '../../../../packages/local-stack/haproxy';
import type { PostgresCluster } from '../../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../../packages/local-stack/process/ports';

/**
 * Test fixture of the health tests: a simulated host (its own loopback listen address and
 * dirs), a bundle rendered by the real renderBundle from the live PostgreSQL nodes, and
 * HAProxy (2.6 or 3.0) started in master-worker mode on that bundle's config.
 */
export interface TestHost {
  dir: string;
  stateDir: string;
  listenAddress: string;
  host: HostValues;
  binDir: string;
  statsSocket: string;
}

export function createTestHost(checkPort: number): TestHost {
  const dir = mkdtempSync(join(tmpdir(), 'ah-health-'));
  // A listen address of its own: the template binds stats on <listen addr>:8404.
  const octet = () => Math.floor(Math.random() * 250) + 1;
  const listenAddress = `127.${50 + Math.floor(Math.random() * 150)}.${octet()}.${octet()}`;
  const host = localHostValues(dir, listenAddress, checkPort);
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(host.runDir, 'server-state'), '1\n');
  return {
    dir,
    stateDir,
    listenAddress,
    host,
    binDir: host.binDir,
    statsSocket: join(host.runDir, 'admin.sock'),
  };
}

export const CLUSTER_ID = 'orders';

export function registryCluster(port: number, options: Partial<ClusterOptions>): RegistryCluster {
  const at = new Date(0).toISOString();
  return {
    clusterId: CLUSTER_ID,
    port,
    databases: [{ alias: 'orders', dbname: 'postgres' }],
    options: ClusterOptionsSchema.parse(options),
    version: 1,
    createdAt: at,
    updatedAt: at,
  };
}

/** The topology RDS would report for the running nodes (a stopped node is gone from it). */
export function topologyOf(pg: PostgresCluster): ClusterTopology {
  return {
    clusterId: CLUSTER_ID,
    status: 'available',
    engine: 'aurora-postgresql',
    members: pg
      .nodes()
      .filter((n) => n.running)
      .map((n) => ({
        instanceId: n.name,
        address: n.host,
        port: n.port,
        isWriter: n.role === 'primary',
        status: 'available',
        instanceClass: 'db.r6g.large',
      })),
    observedAt: new Date().toISOString(),
    stale: false,
  };
}

export function renderFor(
  pg: PostgresCluster,
  cluster: RegistryCluster,
  previous?: Bundle,
): Bundle {
  return renderBundle(
    { clusters: [cluster], topologies: new Map([[CLUSTER_ID, topologyOf(pg)]]), previous },
    new Date(),
  );
}

/** Write <stateDir>/applied-bundle.json atomically, as apply does. */
export function writeAppliedBundle(stateDir: string, bundle: Bundle): void {
  const path = join(stateDir, 'applied-bundle.json');
  writeFileSync(`${path}.tmp`, JSON.stringify(bundle));
  renameSync(`${path}.tmp`, path);
}

/**
 * The health daemon's options on a test host: its check port, dirs and stats socket, probing as
 * postgres without a password. The nodes serve TLS only: probes verify-full, as on a host.
 */
export function healthDaemonOptions(host: TestHost, caFile: string): HealthConfigInput {
  return {
    checkPort: host.host.checkPort,
    binDir: host.binDir,
    stateDir: host.stateDir,
    statsSocketPath: host.statsSocket,
    user: 'postgres',
    credentials: { mode: 'none' },
    tls: { mode: 'verify-full', caBundlePath: caFile },
  };
}

/** HAProxy (packages/local-stack/haproxy.ts: master-worker, ended by PID) on the bundle's config. */
export async function startHaproxy(host: TestHost, bundle: Bundle): Promise<LocalHaproxy> {
  const configPath = join(host.dir, 'haproxy.cfg');
  writeFileSync(configPath, bundle.files.haproxy);
  return startLocalHaproxy({ dir: host.dir, configPath, host: host.host });
}

/** One server's line of `show stat`: status (UP, DOWN, MAINT, ...) and last check status. */
export async function serverStat(
  host: TestHost,
  backend: string,
  slot: string,
): Promise<{ status: string; checkStatus: string; checkDesc: string }> {
  const csv = await sendSocketCommand(host.statsSocket, 'show stat', 1000);
  const [header, ...lines] = csv.split('\n');
  const names = (header ?? '').replace(/^# /, '').split(',');
  const field = (fields: string[], name: string) => fields[names.indexOf(name)] ?? '';
  for (const line of lines) {
    const fields = line.split(',');
    if (fields[0] === backend && fields[1] === slot) {
      return {
        status: field(fields, 'status'),
        checkStatus: field(fields, 'check_status'),
        checkDesc: field(fields, 'last_chk'),
      };
    }
  }
  throw new Error(`no server ${backend}/${slot} in show stat`);
}

export async function serverStatus(host: TestHost, backend: string, slot: string): Promise<string> {
  return (await serverStat(host, backend, slot)).status;
}

export { freePort };
