/**
 * The health verdict of one server in one HAProxy slot: a pure function of the latest probe
 * result, the slot's role in the applied bundle, the cluster's options and the time.
 *
 * Pass conditions (anything else fails, and "don't know" fails):
 * 1. There is a probe result, and it is no older than `freshnessMs` (a probe loop that hangs
 *    or dies cannot keep a server up).
 * 2. The last probe connected and ran its query.
 * 3. Reader slot (r01..): the server is a replica: on Aurora its aurora_replica_status() row
 *    is not MASTER_SESSION_ID; elsewhere pg_is_in_recovery() is true. A writer in a reader
 *    slot always fails: that is the "never route a read to the writer" guarantee, and it
 *    catches a promotion before the topology (and the bundle) catch up.
 * 4. When the cluster sets maxReplicaLagMs, a replica's lag must be known and <= it.
 * 5. Writer backup slot (w1): passes only when the cluster opts into fallbackToWriter (it is
 *    a `backup` server, used only when no reader passes). If the server in that slot is in
 *    fact a replica by now (a failover the bundle has not caught up with), it is held to
 *    the reader rule 4 on lag.
 * A writer in a reader slot is flagged (writerInReaderSlot): the daemon then also ends the
 * sessions open to it, not only new ones.
 * A pass carries weightPercent 100 (for status; the check reply is a plain `up`, weights
 * belong to the bundle).
 */

export interface ProbeResult {
  /** The probe connected and its query answered. */
  connected: boolean;
  /** pg_is_in_recovery() (undefined when not connected). */
  inRecovery?: boolean;
  /** Aurora only: this instance's aurora_replica_status() row says MASTER_SESSION_ID. */
  isAuroraWriter?: boolean;
  /** Replica lag in ms (Aurora replica_lag_in_msec, or the vanilla estimate). */
  lagMs?: number;
  /** Vanilla, out of recovery: the timeline it writes (the writer election's tie-break). */
  timeline?: number;
  /** When the probe finished (epoch ms). */
  observedAt: number;
  /** Why the probe failed (connect error, timeout); no secrets. */
  error?: string;
}

/**
 * reader / writer: a slot of the reader listener (r01.., w1); member: a writer endpoint's
 * slot (m01..), judged by the writer election (writer-election.ts), not by decideVerdict.
 */
export type SlotRole = 'reader' | 'writer' | 'member';

export interface VerdictOptions {
  maxReplicaLagMs?: number;
  fallbackToWriter: boolean;
}

export interface Verdict {
  pass: boolean;
  /** Short, single-line, safe to show HAProxy (`down #<reason>`) and logs. */
  reason: string;
  weightPercent?: number;
  /**
   * The server in a reader slot is the writer: sessions already open to it must end too
   * (PgBouncer's pooled server connections would otherwise keep sending reads to it).
   */
  writerInReaderSlot?: true;
  /**
   * A writer endpoint's server that claims to be the writer but lost the election (a split
   * brain): its sessions end too, so no write reaches it.
   */
  lostWriterElection?: true;
}

export function decideVerdict(
  probe: ProbeResult | undefined,
  slotRole: SlotRole,
  options: VerdictOptions,
  now: number,
  freshnessMs: number,
): Verdict {
  if (!probe) return fail('unknown: no probe result yet');
  const ageMs = now - probe.observedAt;
  if (ageMs > freshnessMs) return fail(`stale: last probe ${ageMs} ms ago`);
  if (!probe.connected) return fail(`unreachable: ${probe.error ?? 'no connection'}`);
  if (probe.inRecovery === undefined && probe.isAuroraWriter === undefined) {
    return fail('unknown: probe returned no role');
  }
  const isWriter = claimsWriter(probe);

  if (slotRole === 'member') return fail('writer endpoint slot: judged by the writer election');
  if (slotRole === 'writer') {
    if (!options.fallbackToWriter) return fail('writer slot without fallbackToWriter');
    if (isWriter) return pass('writer as backup (fallbackToWriter)');
    return lagVerdict(probe, options);
  }
  if (isWriter) return { ...fail('is the writer'), writerInReaderSlot: true };
  return lagVerdict(probe, options);
}

/** The server says it is the writer: Aurora's own row is MASTER_SESSION_ID, else not in recovery. */
export function claimsWriter(probe: ProbeResult): boolean {
  return probe.isAuroraWriter ?? probe.inRecovery === false;
}

function lagVerdict(probe: ProbeResult, options: VerdictOptions): Verdict {
  if (options.maxReplicaLagMs === undefined) return pass('replica');
  if (probe.lagMs === undefined) return fail('lag unknown');
  if (probe.lagMs > options.maxReplicaLagMs) {
    return fail(`lag ${Math.round(probe.lagMs)} ms > ${options.maxReplicaLagMs} ms`);
  }
  return pass(`replica, lag ${Math.round(probe.lagMs)} ms`);
}

const pass = (reason: string): Verdict => ({ pass: true, reason, weightPercent: 100 });
const fail = (reason: string): Verdict => ({ pass: false, reason: oneLine(reason) });

/** Reasons go into a protocol line: printable ASCII only, no newline, bounded. */
export function oneLine(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, ' ').slice(0, 120);
}
