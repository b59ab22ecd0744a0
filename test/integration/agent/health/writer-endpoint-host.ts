import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import type { HealthConfigInput } from '../../../../agent/health/config';
import { installPostgresqlchk } from '../../../../agent/health/postgresqlchk-install';
import type { PgbouncerAdminTarget } from '../../../../agent/pgbouncer/admin';
import { expandInclude } from '../../../../agent/pgbouncer/host-include';
import {
  type LocalPgbouncer,
  PGBOUNCER_ADMIN_USER,
  startLocalPgbouncer,
} from '../../../../packages/local-stack/pgbouncer';
import type { PostgresCluster } from '../../../../packages/local-stack/postgres-cluster';
import {
  createTestHost,
  freePort,
  healthDaemonOptions,
  registryCluster,
  renderFor,
  type TestHost,
  writeAppliedBundle,
} from './fixture';

/**
 * A simulated host serving a writer endpoint (issue 12), as the writer endpoint integration
 * test and the writer-failover benchmark both set it up: a bundle whose cluster has a writer
 * alias (transaction pooling) applied on the host, postgresqlchk installed, and the health
 * daemon's options with PgBouncer's admin console to PAUSE the alias in. Nothing runs yet:
 * the caller starts the daemon (with its own options and log), HAProxy and then PgBouncer
 * (startHostPgbouncer), and stops each.
 */
export interface WriterEndpointHost {
  host: TestHost;
  bundle: Bundle;
  /** The writer endpoint's HAProxy backend. */
  writerBackend: string;
  /** The writer endpoint's slot of a node. */
  slotOf(instanceId: string): string;
  /** The port PgBouncer will listen on. */
  pgbouncerPort: number;
  /** PgBouncer's admin console, as the daemon reaches it (its unix socket). */
  pgbouncerAdmin: PgbouncerAdminTarget;
  /** The health daemon's options on this host, PAUSEing the writer alias in PgBouncer. */
  daemonOptions: HealthConfigInput;
}

export async function prepareWriterEndpointHost(
  pgc: PostgresCluster,
  writerAlias: string,
): Promise<WriterEndpointHost> {
  const checkPort = await freePort();
  const host = createTestHost(checkPort);
  const bundle = renderFor(
    pgc,
    registryCluster(await freePort(), {
      checkMode: 'agent',
      writer: {
        alias: writerAlias,
        dbname: 'postgres',
        port: await freePort(),
        poolMode: 'transaction',
      },
    }),
  );
  writeAppliedBundle(host.stateDir, bundle);
  installPostgresqlchk(host.binDir, 1);
  const pgbouncerPort = await freePort();
  const pgbouncerAdmin = {
    host: host.host.socketDir,
    port: pgbouncerPort,
    user: PGBOUNCER_ADMIN_USER,
  };
  return {
    host,
    bundle,
    writerBackend: bundle.clusters[0]?.writer?.backend as string,
    slotOf: (instanceId) =>
      bundle.clusters[0]?.writer?.servers.find((s) => s.instanceId === instanceId)?.name as string,
    pgbouncerPort,
    pgbouncerAdmin,
    daemonOptions: {
      ...healthDaemonOptions(host, pgc.caFile),
      // The writer alias is PAUSEd in PgBouncer while no writer is elected.
      pgbouncer: pgbouncerAdmin,
    },
  };
}

/** PgBouncer on the host with the bundle's include, its servers reached over TLS. */
export async function startHostPgbouncer(
  writerHost: WriterEndpointHost,
  caFile: string,
): Promise<LocalPgbouncer> {
  // PgBouncer runs as postgres: the include must be readable to it.
  chmodSync(writerHost.host.dir, 0o755);
  const databasesFile = join(writerHost.host.dir, 'pgbouncer-databases.ini');
  // As the agent installs it (host= the listen address: PgBouncer's server TLS needs TCP).
  writeFileSync(
    databasesFile,
    expandInclude(writerHost.bundle.files.pgbouncerDatabases, writerHost.host.listenAddress),
    {
      mode: 0o644,
    },
  );
  return startLocalPgbouncer({
    dir: join(writerHost.host.dir, 'pgbouncer'),
    listenAddress: writerHost.host.listenAddress,
    port: writerHost.pgbouncerPort,
    socketDir: writerHost.host.host.socketDir,
    databasesFile,
    serverLoginRetry: 0.2,
    serverTls: { caFile },
  });
}
