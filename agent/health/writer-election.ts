import type { SlotTarget } from './bundle-index';
import { claimsWriter, oneLine, type ProbeResult, type Verdict } from './verdict';

/**
 * The writer election of a writer endpoint (pure): which one server of the listener's
 * member slots may pass. At most one is ever elected, so at most one slot of the listener
 * passes on this host ("never two writers").
 *
 * Claimants: members whose latest probe is no older than `freshnessMs`, connected, with a
 * known role, and saying they are the writer (Aurora: their own aurora_replica_status() row
 * is MASTER_SESSION_ID; vanilla: pg_is_in_recovery() is false).
 * Pass conditions (the elected writer):
 * 1. no claimant: nobody (clients wait in PgBouncer);
 * 2. one claimant: that one;
 * 3. several (a split brain: an old primary still running after a promotion, or probes of
 *    a failover seen at different instants):
 *    a. every claimant reports its timeline (vanilla) and exactly one has the highest: that
 *       one (a promoted replica always writes a higher timeline than the primary it
 *       followed: it is where the cluster's replicas go);
 *    b. else exactly one claimant is the writer RDS names (the bundle's role; Aurora reports
 *       no timeline): that one;
 *    c. else nobody (ambiguous: fail closed, clients wait).
 * A claimant that is not elected "lost" the election: its slot fails and its sessions are
 * ended (a write must not land on a server that is not the writer).
 */
export interface WriterMember {
  serverKey: string;
  probe: ProbeResult | undefined;
  /** RDS names it the writer (the bundle's role for its slot). */
  rdsWriter: boolean;
}

export interface Election {
  /** serverKey of the elected writer; undefined: nobody passes. */
  writer?: string;
  /** serverKeys of every claimant. */
  claimants: string[];
  /** Why, one line. */
  reason: string;
}

export function electWriter(
  members: readonly WriterMember[],
  now: number,
  freshnessMs: number,
): Election {
  const distinct = new Map<string, WriterMember>();
  for (const m of members) {
    const seen = distinct.get(m.serverKey);
    // The same server in two slots (during an apply): RDS names it writer if either says so.
    distinct.set(m.serverKey, seen ? { ...m, rdsWriter: seen.rdsWriter || m.rdsWriter } : m);
  }
  const claimants = [...distinct.values()].filter((m) => isClaimant(m.probe, now, freshnessMs));
  const keys = claimants.map((c) => c.serverKey).sort();
  const [only] = claimants;
  if (only === undefined) return { claimants: keys, reason: 'no member claims the writer' };
  if (claimants.length === 1) return { writer: only.serverKey, claimants: keys, reason: 'writer' };

  const timelines = claimants.map((c) => c.probe?.timeline);
  if (timelines.every((t): t is number => t !== undefined)) {
    const highest = Math.max(...timelines);
    const top = claimants.filter((c) => c.probe?.timeline === highest);
    if (top.length === 1 && top[0]) {
      return {
        writer: top[0].serverKey,
        claimants: keys,
        reason: `writer: highest timeline ${highest} of ${claimants.length} claimants`,
      };
    }
  }
  const named = claimants.filter((c) => c.rdsWriter);
  if (named.length === 1 && named[0]) {
    return {
      writer: named[0].serverKey,
      claimants: keys,
      reason: `writer: the one RDS names, of ${claimants.length} claimants`,
    };
  }
  return {
    claimants: keys,
    reason: `${claimants.length} members claim the writer, no tie-break (${keys.join(', ')})`,
  };
}

function isClaimant(probe: ProbeResult | undefined, now: number, freshnessMs: number): boolean {
  if (!probe?.connected || now - probe.observedAt > freshnessMs) return false;
  if (probe.inRecovery === undefined && probe.isAuroraWriter === undefined) return false;
  return claimsWriter(probe);
}

/**
 * The verdict of one server in a writer endpoint slot, given the election (pure). Pass
 * condition: it is the elected writer. Otherwise it fails with what it is (the election's
 * reason, or unknown/stale/unreachable/replica), flagged lostWriterElection when it claims
 * the writer.
 */
export function memberVerdict(
  serverKey: string,
  probe: ProbeResult | undefined,
  election: Election,
  now: number,
  freshnessMs: number,
): Verdict {
  if (election.writer === serverKey) {
    return { pass: true, reason: oneLine(election.reason), weightPercent: 100 };
  }
  if (election.claimants.includes(serverKey)) {
    const why = election.writer
      ? `lost the writer election to ${election.writer}`
      : election.reason;
    return {
      pass: false,
      reason: oneLine(`claims the writer but ${why}`),
      lostWriterElection: true,
    };
  }
  return {
    pass: false,
    reason: oneLine(`not the writer: ${memberState(probe, now, freshnessMs)}`),
  };
}

function memberState(probe: ProbeResult | undefined, now: number, freshnessMs: number): string {
  if (!probe) return 'no probe result yet';
  const ageMs = now - probe.observedAt;
  if (ageMs > freshnessMs) return `stale: last probe ${ageMs} ms ago`;
  if (!probe.connected) return `unreachable: ${probe.error ?? 'no connection'}`;
  if (probe.inRecovery === undefined && probe.isAuroraWriter === undefined) return 'role unknown';
  return 'replica';
}

/** The election's members: every candidate of every member slot of one backend. */
export function electionMembers(
  targets: Iterable<SlotTarget>,
  latest: (serverKey: string) => ProbeResult | undefined,
): WriterMember[] {
  const members: WriterMember[] = [];
  for (const t of targets) {
    if (t.role !== 'member') continue;
    members.push({
      serverKey: t.serverKey,
      probe: latest(t.serverKey),
      rdsWriter: t.rdsWriter === true,
    });
  }
  return members;
}
