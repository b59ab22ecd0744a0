import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initPgbenchTables } from '@aurora-haproxy/test-support/pgbench';
import pg from 'pg';
import { expect } from 'vitest';
import type { FleetInstance } from '../../packages/local-stack/fleet';
import { instanceIdFor } from '../../packages/local-stack/rds-standin/simulated-nodes';
import { APP_DATABASE, type LocalStack } from '../../packages/local-stack/stack';
import { type ReadTarget, waitForServersUp } from '../../packages/local-stack/stack-probes';

/** Shared steps of the end-to-end files (one stack per file, started in beforeAll). */
export const CLUSTER = 'orders';
export const ALIAS = 'orders';

/** Register the cluster through the admin path and wait for the fleet to apply its bundle. */
export async function registerCluster(
  stack: LocalStack,
  clusterId = CLUSTER,
  alias = ALIAS,
): Promise<number> {
  const port = await stack.freeClusterPort();
  // The admin call only requests a reconcile (asynchronous invoke): until it has run, the
  // old desired bundle is still the converged one.
  const before = await stack.desiredSha();
  const run = await stack.cli([
    'clusters',
    'add',
    clusterId,
    '--port',
    String(port),
    '--db',
    `${alias}=${APP_DATABASE}`,
  ]);
  expect(run.code, run.stderr).toBe(0);
  await stack.waitForConvergence({ not: before, timeoutMs: 60_000 });
  await readersUp(stack, clusterId);
  return port;
}

/** Wait until every host's HAProxy has every running reader of the cluster UP. */
export async function readersUp(stack: LocalStack, clusterId = CLUSTER): Promise<void> {
  const readers = stack
    .cluster(clusterId)
    .replicas()
    .filter((r) => r.running).length;
  for (const instance of stack.fleet.inService()) {
    await waitForServersUp(instance, `aurora-${clusterId}`, readers, 60_000);
  }
}

/** A host's PgBouncer, over TLS verified against the stack's client CA (verify-ca). */
export function viaPgbouncer(instance: FleetInstance, database = ALIAS): ReadTarget {
  return {
    host: instance.host.listenAddress,
    port: instance.pgbouncerPort,
    database,
    ...(instance.clientSsl ? { ssl: instance.clientSsl } : {}),
  };
}

/** PostgreSQL port -> Aurora instance id, for the cluster's current nodes. */
export function nodesByPort(stack: LocalStack, clusterId = CLUSTER): Map<number, string> {
  return new Map(
    stack
      .cluster(clusterId)
      .nodes()
      .map((n) => [n.port, instanceIdFor(clusterId, n.name)]),
  );
}

export function readerPorts(stack: LocalStack, clusterId = CLUSTER): number[] {
  return stack
    .cluster(clusterId)
    .replicas()
    .filter((r) => r.running)
    .map((r) => r.port)
    .sort((a, b) => a - b);
}

export function lastApply(instance: FleetInstance): {
  ok?: boolean;
  action?: string;
  sha256?: string;
} {
  try {
    const state = JSON.parse(readFileSync(join(instance.dir, 'state', 'state.json'), 'utf8')) as {
      lastResult?: { ok?: boolean; action?: string; sha256?: string };
    };
    return state.lastResult ?? {};
  } catch {
    return {};
  }
}

/** `aurora-haproxy --json clusters status` through the admin path. */
export async function fleetStatus(stack: LocalStack): Promise<{
  desired: { sha256: string } | null;
  instances: { instanceId: string; state: string; drift: boolean; appliedSha256?: string }[];
  clusters: { clusterId: string; topology: string }[];
  staleClusters: string[];
}> {
  const run = await stack.cli(['--json', 'clusters', 'status']);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout).status;
}

/** pgbench tables in the application database (on the writer; replicated to the readers). */
export async function initPgbench(stack: LocalStack, clusterId = CLUSTER): Promise<void> {
  const primary = stack.cluster(clusterId).primary();
  await initPgbenchTables({ host: primary.host, port: primary.port, database: APP_DATABASE });
  await stack.cluster(clusterId).waitForReplication(60_000);
}

/**
 * A session as postgres on the cluster's primary, in the application database (where
 * pgbench's tables live; the nodes serve TLS only), ended once `use` settles.
 */
export async function onPrimary<T>(
  stack: LocalStack,
  use: (client: pg.Client) => Promise<T>,
  clusterId = CLUSTER,
): Promise<T> {
  const cluster = stack.cluster(clusterId);
  const primary = cluster.primary();
  const client = new pg.Client({
    host: primary.host,
    port: primary.port,
    user: 'postgres',
    database: APP_DATABASE,
    ssl: cluster.ssl(),
  });
  client.on('error', () => undefined); // a dropped socket also rejects the pending call
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
