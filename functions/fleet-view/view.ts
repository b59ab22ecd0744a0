import {
  type HostReport,
  imbalanceRatio,
  type ServerState,
} from '@aurora-haproxy/contract/host-report';
import type { StoredHostReport } from './store';

/**
 * The fleet as the hosts see it: per cluster a readers x hosts matrix (each host's HAProxy
 * state of each reader, with the reason), sessions per reader, the imbalance, and which
 * hosts have no reader UP; per host its report's age, applied sha, versions and pool totals.
 *
 * Rules (pure; `now` is the reader's clock):
 * 1. A report older than `staleAfterMs` (or from the future by more than that: a host clock
 *    gone wrong) is stale: its cells show STALE (with the last state in `lastState`), its
 *    sessions count nowhere, and its host is listed in `staleHosts`. Never shown as current.
 * 2. An invalid report (does not parse) is a host with `invalid` set, stale as well.
 * 3. Clusters: every registered one, plus any a fresh host still reports (`registered`
 *    false: a removal not yet applied). A cluster a fresh host does not report (not applied
 *    there yet) has that host in `hostsWithoutReaderUp` and cells ABSENT.
 * 4. Readers of a cluster: the union over hosts, by Aurora instance id. Sessions per reader
 *    sum its slots over fresh hosts; the imbalance is imbalanceRatio() over the readers UP on
 *    some fresh host (the writer's backup slot is shown, not counted).
 * 5. A cluster with a writer endpoint (a host reports its `<backend>_writer` listener): per
 *    fresh host the instances UP there (exactly one is right; none during a failover), the
 *    hosts with none and, never expected, with more than one, and the member slots' reasons
 *    on a host with none.
 */
export type CellState = ServerState | 'STALE' | 'ABSENT';

export interface Cell {
  state: CellState;
  reason: string;
  sessions: number;
  /** For STALE: what the old report said. */
  lastState?: ServerState;
}

export interface ReaderRow {
  /** Aurora instance id (the slot name for a server the bundle did not name). */
  instanceId: string;
  role: 'reader' | 'writer';
  slot: string;
  sessions: number;
  /** Host instance id -> cell. */
  cells: Record<string, Cell>;
}

export interface WriterEndpointView {
  backend: string;
  /** Fresh host -> instance ids UP in the writer listener there. */
  upOn: Record<string, string[]>;
  hostsWithoutWriter: string[];
  /** Fresh hosts where more than one member is UP (the election allows one: a fault). */
  hostsWithSeveral: string[];
  sessions: number;
  /** Fresh host without a writer UP -> its member slots' reasons, one line. */
  reasons: Record<string, string>;
}

export interface ClusterView {
  clusterId: string;
  registered: boolean;
  /** Present when some host reports the cluster's writer endpoint listener. */
  writer?: WriterEndpointView;
  readers: ReaderRow[];
  /** Fresh host -> readers UP there. */
  readersUp: Record<string, number>;
  hostsWithoutReaderUp: string[];
  sessions: number;
  imbalance: number | null;
}

export interface PoolTotals {
  clientsActive: number;
  clientsWaiting: number;
  serversActive: number;
  serversIdle: number;
  maxWaitMs: number;
}

export interface HostView {
  instanceId: string;
  stale: boolean;
  reportedAt: string | null;
  ageMs: number | null;
  appliedSha256: string | null;
  haproxyVersion: string | null;
  pgbouncerVersion: string | null;
  pools: PoolTotals | null;
  problems: string[];
  invalid?: string;
}

export interface FleetView {
  generatedAt: string;
  staleAfterMs: number;
  hosts: HostView[];
  staleHosts: string[];
  clusters: ClusterView[];
}

export const DEFAULT_STALE_AFTER_MS = 30_000;

export function buildFleetView(
  stored: readonly StoredHostReport[],
  registered: readonly string[],
  now: number,
  staleAfterMs = DEFAULT_STALE_AFTER_MS,
  onlyCluster?: string,
): FleetView {
  const hosts = stored.map((s) => hostView(s, now, staleAfterMs));
  const fresh = new Map<string, HostReport>();
  const staleReports = new Map<string, HostReport>();
  for (const s of stored) {
    if (!('report' in s)) continue;
    const host = hosts.find((h) => h.instanceId === s.instanceId);
    (host?.stale ? staleReports : fresh).set(s.instanceId, s.report);
  }
  const hostIds = hosts.map((h) => h.instanceId);
  const clusterIds = new Set(registered);
  for (const report of fresh.values()) for (const c of report.clusters) clusterIds.add(c.clusterId);
  const clusters = [...clusterIds]
    .filter((id) => onlyCluster === undefined || id === onlyCluster)
    .sort()
    .map((id) => clusterView(id, registered.includes(id), hostIds, fresh, staleReports));
  return {
    generatedAt: new Date(now).toISOString(),
    staleAfterMs,
    hosts,
    staleHosts: hosts.filter((h) => h.stale).map((h) => h.instanceId),
    clusters,
  };
}

function hostView(s: StoredHostReport, now: number, staleAfterMs: number): HostView {
  if (!('report' in s)) {
    return {
      instanceId: s.instanceId,
      stale: true,
      reportedAt: null,
      ageMs: null,
      appliedSha256: null,
      haproxyVersion: null,
      pgbouncerVersion: null,
      pools: null,
      problems: [],
      invalid: s.invalid,
    };
  }
  const r = s.report;
  const ageMs = now - r.reportedAt;
  return {
    instanceId: s.instanceId,
    stale: Math.abs(ageMs) > staleAfterMs,
    reportedAt: new Date(r.reportedAt).toISOString(),
    ageMs,
    appliedSha256: r.appliedSha256,
    haproxyVersion: r.haproxyVersion,
    pgbouncerVersion: r.pgbouncerVersion,
    pools: poolTotals(r),
    problems: r.problems,
  };
}

function poolTotals(r: HostReport): PoolTotals | null {
  if (r.pgbouncerVersion === null && r.pools.length === 0) return null;
  return r.pools.reduce<PoolTotals>(
    (t, p) => ({
      clientsActive: t.clientsActive + p.clientsActive,
      clientsWaiting: t.clientsWaiting + p.clientsWaiting,
      serversActive: t.serversActive + p.serversActive,
      serversIdle: t.serversIdle + p.serversIdle,
      maxWaitMs: Math.max(t.maxWaitMs, p.maxWaitMs),
    }),
    { clientsActive: 0, clientsWaiting: 0, serversActive: 0, serversIdle: 0, maxWaitMs: 0 },
  );
}

function clusterView(
  clusterId: string,
  registered: boolean,
  hostIds: readonly string[],
  fresh: ReadonlyMap<string, HostReport>,
  stale: ReadonlyMap<string, HostReport>,
): ClusterView {
  const rows = new Map<string, ReaderRow>();
  const row = (key: string, slot: string, role: 'reader' | 'writer') => {
    let r = rows.get(key);
    if (!r) {
      r = { instanceId: key, role, slot, sessions: 0, cells: {} };
      rows.set(key, r);
    }
    return r;
  };
  const readersUp: Record<string, number> = {};
  for (const [hostId, report] of fresh) {
    const cluster = readerReport(report, clusterId);
    readersUp[hostId] = 0;
    for (const slot of cluster?.slots ?? []) {
      const r = row(slot.instanceId ?? slot.slot, slot.slot, readerRole(slot.role));
      r.cells[hostId] = { state: slot.state, reason: slot.reason, sessions: slot.sessions };
      r.sessions += slot.sessions;
      if (slot.state === 'UP' && r.role === 'reader') readersUp[hostId]++;
    }
  }
  for (const [hostId, report] of stale) {
    const cluster = readerReport(report, clusterId);
    for (const slot of cluster?.slots ?? []) {
      const r = row(slot.instanceId ?? slot.slot, slot.slot, readerRole(slot.role));
      r.cells[hostId] = {
        state: 'STALE',
        reason: 'the host stopped reporting',
        sessions: 0,
        lastState: slot.state,
      };
    }
  }
  const readers = [...rows.values()].sort(
    (a, b) =>
      (a.role === b.role ? 0 : a.role === 'reader' ? -1 : 1) || a.slot.localeCompare(b.slot),
  );
  for (const r of readers) {
    for (const hostId of hostIds) {
      r.cells[hostId] ??=
        stale.has(hostId) || !fresh.has(hostId)
          ? { state: 'STALE', reason: 'the host stopped reporting', sessions: 0 }
          : { state: 'ABSENT', reason: "not in this host's applied bundle", sessions: 0 };
    }
  }
  const upSomewhere = readers.filter(
    (r) => r.role === 'reader' && Object.values(r.cells).some((c) => c.state === 'UP'),
  );
  const writer = writerEndpointView(clusterId, fresh, stale);
  return {
    clusterId,
    registered,
    ...(writer ? { writer } : {}),
    readers,
    readersUp,
    hostsWithoutReaderUp: Object.entries(readersUp)
      .filter(([, n]) => n === 0)
      .map(([h]) => h)
      .sort(),
    sessions: readers.reduce((sum, r) => sum + r.sessions, 0),
    imbalance: imbalanceRatio(upSomewhere.map((r) => r.sessions)),
  };
}

const WRITER_SUFFIX = '_writer';

function readerReport(report: HostReport, clusterId: string) {
  return report.clusters.find(
    (c) => c.clusterId === clusterId && !c.backend.endsWith(WRITER_SUFFIX),
  );
}

function writerReport(report: HostReport, clusterId: string) {
  return report.clusters.find(
    (c) => c.clusterId === clusterId && c.backend.endsWith(WRITER_SUFFIX),
  );
}

function readerRole(role: 'reader' | 'writer' | 'member' | undefined): 'reader' | 'writer' {
  return role === 'writer' ? 'writer' : 'reader';
}

function writerEndpointView(
  clusterId: string,
  fresh: ReadonlyMap<string, HostReport>,
  stale: ReadonlyMap<string, HostReport>,
): WriterEndpointView | undefined {
  const backend = [...fresh.values(), ...stale.values()]
    .map((r) => writerReport(r, clusterId)?.backend)
    .find((b) => b !== undefined);
  if (backend === undefined) return undefined;
  const view: WriterEndpointView = {
    backend,
    upOn: {},
    hostsWithoutWriter: [],
    hostsWithSeveral: [],
    sessions: 0,
    reasons: {},
  };
  for (const [hostId, report] of [...fresh].sort(([a], [b]) => a.localeCompare(b))) {
    const slots = writerReport(report, clusterId)?.slots ?? [];
    const up = slots.filter((s) => s.state === 'UP');
    view.upOn[hostId] = up.map((s) => s.instanceId ?? s.slot).sort();
    view.sessions += slots.reduce((sum, s) => sum + s.sessions, 0);
    if (up.length > 1) view.hostsWithSeveral.push(hostId);
    if (up.length === 0) {
      view.hostsWithoutWriter.push(hostId);
      view.reasons[hostId] =
        slots.length === 0
          ? "not in this host's applied bundle"
          : slots.map((s) => `${s.instanceId ?? s.slot}: ${s.reason}`).join('; ');
    }
  }
  return view;
}
