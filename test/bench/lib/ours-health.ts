import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PostgresCluster } from '../../../infra/local/postgres-cluster';
import { MissingPartError } from './benchmark';
import { REPO_ROOT } from './paths';

/**
 * Ours, for the check benchmarks: the agent team's health daemon (agent/health) probing the
 * cluster's servers, and its thin check client agent/postgresqlchk. This file only starts
 * their parts; it holds no copy of them.
 */
export const POSTGRESQLCHK = join(REPO_ROOT, 'agent', 'postgresqlchk');

export interface OursHealth {
  /** Root pids of the daemon's process tree (for CPU accounting). */
  daemonPids(): number[];
  /** The environment postgresqlchk runs with (what HAProxy gives it). */
  checkEnv(): Record<string, string>;
  /** HAProxy in agent-check mode against the daemon: forks/s of its worker. */
  agentCheckForksPerSecond?(
    count: (pid: number, seconds: number) => Promise<number>,
  ): Promise<number>;
  stop(): Promise<void>;
}

export async function startOursHealth(
  _cluster: PostgresCluster,
  _options: { checkMode: 'external' | 'agent' },
): Promise<OursHealth> {
  if (!existsSync(POSTGRESQLCHK)) {
    throw new MissingPartError('agent/postgresqlchk and the health daemon have not landed yet');
  }
  throw new MissingPartError('the health daemon launcher is not wired yet');
}
