import { azBackendName } from '@aurora-haproxy/contract/az-affinity';
import type { ClusterReport, ServerState, SlotReport } from '@aurora-haproxy/contract/host-report';
import type { SlotVerdict } from '../health/health-monitor';
import { oneLine } from '../health/verdict';

/**
 * This host's view of each cluster: the applied bundle's slots (from the health daemon, which
 * follows it), joined with what HAProxy's `show stat` says of each slot. Spare slots (not in
 * the bundle) are left out: they are placeholders in maintenance.
 *
 * State (HAProxy's `status` column): MAINT… -> MAINT; DRAIN or NOLB -> DRAIN; UP…
 * (including "UP 1/2", going down) and "no check" -> UP; anything else (DOWN…, "DOWN 1/2"
 * going up) -> DOWN. A slot of the bundle HAProxy does not have (not applied yet) is DOWN.
 * Reason: the daemon's verdict reason when it fails, or when HAProxy agrees the server is
 * UP; HAProxy's own check status when HAProxy has it DOWN while the daemon passes it;
 * "maintenance" / "draining" for the admin states. Sessions: the slot's, plus those of its
 * in-zone twin (`<backend>_az`, clusters with azAffinity), which reach the same server.
 */
export function serverStateOf(status: string): ServerState {
  const s = status.trim().toUpperCase();
  if (s.startsWith('MAINT')) return 'MAINT';
  if (s.startsWith('DRAIN') || s.startsWith('NOLB')) return 'DRAIN';
  if (s.startsWith('UP') || s === 'NO CHECK') return 'UP';
  return 'DOWN';
}

const bounded = (value: string, max = 200) => oneLine(value).slice(0, max);

function count(value: string | undefined): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 1_000_000_000) : 0;
}

export function clusterReports(
  statRows: readonly Record<string, string>[],
  verdicts: readonly SlotVerdict[],
  missingReason = 'not in HAProxy',
): ClusterReport[] {
  const rows = new Map(statRows.map((r) => [`${r.pxname}/${r.svname}`, r]));
  const byBackend = new Map<string, ClusterReport>();
  for (const v of verdicts) {
    const target = v.target;
    if (!target) continue;
    let cluster = byBackend.get(target.backend);
    if (!cluster) {
      cluster = { clusterId: target.clusterId, backend: target.backend, slots: [] };
      byBackend.set(target.backend, cluster);
    }
    // azAffinity: the in-zone slot of the same name holds the sessions routed in-zone.
    const inZone = rows.get(`${azBackendName(target.backend)}/${target.slot}`);
    cluster.slots.push(slotReport(rows.get(v.key), v, missingReason, count(inZone?.scur)));
  }
  return [...byBackend.values()].sort((a, b) => a.clusterId.localeCompare(b.clusterId));
}

function slotReport(
  row: Record<string, string> | undefined,
  v: SlotVerdict,
  missingReason: string,
  inZoneSessions = 0,
): SlotReport {
  const target = v.target;
  const base = {
    slot: target?.slot ?? v.key.split('/')[1] ?? v.key,
    ...(target ? { instanceId: target.instanceId, role: target.role } : {}),
  };
  if (!row) {
    return { ...base, state: 'DOWN', reason: missingReason, sessions: 0, checkFailures: 0 };
  }
  const state = serverStateOf(row.status ?? '');
  let reason: string;
  if (state === 'MAINT') reason = 'maintenance';
  else if (state === 'DRAIN') reason = `draining; ${v.verdict.reason}`;
  else if (!v.verdict.pass || state === 'UP') reason = v.verdict.reason;
  else reason = `haproxy: ${row.check_status || 'check failed'} ${row.last_chk ?? ''}`.trim();
  return {
    ...base,
    state,
    reason: bounded(reason),
    sessions: count(row.scur) + inZoneSessions,
    checkFailures: count(row.chkfail),
  };
}

/** `Version: 2.6.12-1+deb12u1` from `show info`. */
export function haproxyVersionOf(showInfo: string): string | null {
  const match = /^Version:\s*(\S{1,80})\s*$/m.exec(showInfo);
  return match?.[1] ?? null;
}
