import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { listenersOf } from '@aurora-haproxy/contract/listeners';
import { type HostVersions, hostVersions } from '../apply/versions';
import { type AgentConfig, haproxyRunFiles } from '../config';
import { HaproxyMasterCli } from '../haproxy/master-cli';
import { HaproxyRuntimeApi } from '../haproxy/runtime-api';
import { ADMIN, OP_STATE, type ServerStateRow } from '../haproxy/servers-state';
import type { DaemonStatus } from '../health/check-protocol';
import { queryDaemonStatus } from '../health/status-client';
import { PgbouncerAdmin } from '../pgbouncer/admin';
import { type AgentState, StateStore } from '../state/state-store';

/**
 * `status`: what this host runs. The applied sha and the last apply result (state.json),
 * each HAProxy server slot as the stats socket reports it, joined with the applied bundle's
 * instance ids, and the health daemon's verdicts when it answers.
 */
export interface ServerStatus {
  backend: string;
  server: string;
  instanceId?: string;
  role?: 'reader' | 'writer' | 'member';
  address: string;
  port: number;
  health: 'UP' | 'DOWN' | 'STARTING' | 'STOPPING';
  admin: 'ready' | 'maint' | 'drain';
  weight: number;
  /** The health daemon's verdict for this slot, when the daemon answered. */
  verdict?: { pass: boolean; reason: string; ageMs?: number };
}

export interface AgentStatus {
  appliedSha256: string | null;
  lastResult?: AgentState['lastResult'];
  inProgress?: AgentState['inProgress'];
  /** The bundle HAProxy last refused at reload, held back by its backoff. */
  refused?: AgentState['refused'];
  /** The host's HAProxy and PgBouncer versions (running process, else the binary). */
  versions: HostVersions;
  stateError?: string;
  haproxy: { reachable: boolean; error?: string; servers: ServerStatus[] };
  health: { reachable: boolean; error?: string; sha256?: string | null };
}

const HEALTH = ['DOWN', 'STARTING', 'UP', 'STOPPING'] as const;

export function serverStatus(row: ServerStateRow, bundle: Bundle | undefined): ServerStatus {
  const listener = (bundle?.clusters ?? [])
    .flatMap(listenersOf)
    .find((l) => l.backend === row.backend);
  const server = listener?.servers.find((s) => s.name === row.server);
  const role = listener?.kind === 'writer' ? ('member' as const) : server?.role;
  const maint =
    (row.adminState & (ADMIN.forcedMaint | ADMIN.inheritedMaint | ADMIN.resolutionMaint)) !== 0;
  const drain = (row.adminState & (ADMIN.forcedDrain | ADMIN.inheritedDrain)) !== 0;
  return {
    backend: row.backend,
    server: row.server,
    ...(server && role ? { instanceId: server.instanceId, role } : {}),
    address: row.address,
    port: row.port,
    health: HEALTH[row.opState] ?? (row.opState === OP_STATE.running ? 'UP' : 'DOWN'),
    admin: maint ? 'maint' : drain ? 'drain' : 'ready',
    weight: row.userWeight,
  };
}

export async function collectStatus(config: AgentConfig): Promise<AgentStatus> {
  const store = new StateStore(config.stateDir);
  let state: AgentState = { appliedSha256: null };
  let bundle: Bundle | undefined;
  let stateError: string | undefined;
  try {
    state = store.readState();
    bundle = store.readAppliedBundle();
  } catch (error) {
    stateError = errorMessage(error);
  }
  const runtime = new HaproxyRuntimeApi(haproxyRunFiles(config).statsSocket, 2_000);
  let haproxy: AgentStatus['haproxy'];
  try {
    const dump = await runtime.showServersState();
    haproxy = { reachable: true, servers: dump.rows.map((row) => serverStatus(row, bundle)) };
  } catch (error) {
    haproxy = { reachable: false, error: errorMessage(error), servers: [] };
  }
  let health: AgentStatus['health'];
  let daemon: DaemonStatus | undefined;
  try {
    daemon = await queryDaemonStatus(config.health.checkPort, config.health.checkAddress);
    health = { reachable: true, sha256: daemon.sha256 };
  } catch (error) {
    health = { reachable: false, error: errorMessage(error) };
  }
  if (daemon) {
    const verdicts = new Map(daemon.slots.map((v) => [v.slot, v]));
    for (const server of haproxy.servers) {
      const v = verdicts.get(`${server.backend}/${server.server}`);
      if (v) server.verdict = { pass: v.pass, reason: v.reason, ageMs: v.ageMs };
    }
  }
  const versions = await hostVersions({
    master: new HaproxyMasterCli(config.haproxy.masterSocket, { retryForMs: 0 }),
    pgbouncer: new PgbouncerAdmin({ ...config.pgbouncer.admin, connectTimeoutMs: 2_000 }),
    haproxyBinary: config.haproxy.binary,
    pgbouncerBinary: config.pgbouncer.binary,
  });
  return {
    appliedSha256: state.appliedSha256,
    ...(state.lastResult ? { lastResult: state.lastResult } : {}),
    ...(state.inProgress ? { inProgress: state.inProgress } : {}),
    ...(state.refused ? { refused: state.refused } : {}),
    versions,
    ...(stateError ? { stateError } : {}),
    haproxy,
    health,
  };
}
