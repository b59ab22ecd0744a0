import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installPostgresqlchk } from '../../../agent/health/postgresqlchk-install';
import type { PostgresCluster } from '../../../packages/local-stack/postgres-cluster';
import { instanceIdFor } from '../../../packages/local-stack/rds-standin/simulated-nodes';
import {
  type RunningDaemon,
  renderOurs,
  startHealthDaemon,
  waitForVerdicts,
  writeAppliedBundle,
} from './ours-stack';

/**
 * Ours, for the check-cost figure: the health daemon probing a one-cluster bundle of the
 * given PostgreSQL cluster, and postgresqlchk installed in a bin dir (with its check.conf)
 * the way a host has it.
 */
export interface OursHealth {
  daemonPids(): number[];
  /** Absolute path of the installed postgresqlchk. */
  command: string;
  /** HAProxy's environment for the check of the first replica's slot. */
  checkEnv(): Record<string, string>;
  daemonPort: number;
  stop(): Promise<void>;
}

export const BENCH_CLUSTER_ID = 'bench-a';

export async function startOursHealth(pg: PostgresCluster, port: number): Promise<OursHealth> {
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-health-'));
  let daemon: RunningDaemon | undefined;
  try {
    const cluster = {
      clusterId: BENCH_CLUSTER_ID,
      port,
      pg,
      options: { checkMode: 'external' as const },
    };
    const bundle = renderOurs([cluster]);
    const stateDir = join(dir, 'state');
    writeAppliedBundle(stateDir, bundle);
    daemon = await startHealthDaemon({ stateDir, logDir: dir });
    const binDir = join(dir, 'bin');
    const command = installPostgresqlchk(binDir, daemon.port);
    const backend = bundle.clusters[0]?.backend as string;
    const firstReplica = instanceIdFor(BENCH_CLUSTER_ID, pg.replicas()[0]?.name as string);
    const slot = bundle.clusters[0]?.servers.find((s) => s.instanceId === firstReplica)?.name;
    if (!slot) throw new Error('the rendered bundle has no slot for the first replica');
    await waitForVerdicts(daemon.port, (key) => key.startsWith(`${backend}/r`));
    const running = daemon;
    return {
      daemonPids: () => [running.pid],
      command,
      daemonPort: running.port,
      checkEnv: () => ({ PATH: binDir, HAPROXY_PROXY_NAME: backend, HAPROXY_SERVER_NAME: slot }),
      async stop() {
        await running.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
