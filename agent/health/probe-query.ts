/**
 * What a probe asks a server: one round trip per probe on a held connection.
 *
 * Aurora (detected once per connection by the presence of aurora_replica_status()): the
 * instance's own row of aurora_replica_status() (server_id = aurora_db_instance_identifier())
 * gives the role (session_id 'MASTER_SESSION_ID' = the writer) and replica_lag_in_msec, the
 * lag Aurora itself measures.
 *
 * Vanilla PostgreSQL (the local stack): pg_is_in_recovery() for the role; lag is 0 when the
 * replica has replayed everything it received (pg_last_wal_replay_lsn() >=
 * pg_last_wal_receive_lsn()), else now() minus the commit time of the last replayed
 * transaction (pg_last_xact_replay_timestamp()). Why this choice: the timestamp alone grows
 * without bound on an idle primary (no new commits to replay) and would fail every idle
 * replica; LSNs alone give bytes, not time. The combination is 0 when idle and caught up,
 * and a time when behind. Known weakness: a replica cut off from its primary that has
 * replayed all it received reads 0 (Aurora's own figure has no such blind spot).
 */
export const DETECT_AURORA_SQL =
  "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'aurora_replica_status') AS aurora";

export const VANILLA_PROBE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() IS NOT NULL
      AND pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0
    ELSE floor(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)
  END::float8 AS lag_ms,
  CASE WHEN pg_is_in_recovery() THEN NULL
    ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int8
  END AS timeline`;

export const AURORA_PROBE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  (SELECT s.session_id = 'MASTER_SESSION_ID' FROM aurora_replica_status() s
     WHERE s.server_id = aurora_db_instance_identifier() LIMIT 1) AS is_writer,
  (SELECT s.replica_lag_in_msec::float8 FROM aurora_replica_status() s
     WHERE s.server_id = aurora_db_instance_identifier() LIMIT 1) AS lag_ms,
  NULL::int8 AS timeline`;

export interface ProbeRow {
  in_recovery: boolean | null;
  is_writer?: boolean | null;
  lag_ms: number | null;
  /** int8 comes back from node-postgres as a string. */
  timeline?: string | number | null;
}

/** Turn a probe row into the verdict's input fields (nulls become "unknown"). */
export function readProbeRow(row: ProbeRow | undefined, aurora: boolean) {
  if (!row) return { connected: true as const };
  return {
    connected: true as const,
    inRecovery: row.in_recovery ?? undefined,
    isAuroraWriter: aurora ? (row.is_writer ?? undefined) : undefined,
    // A negative lag is clock skew between the commit and this host: count it as caught up.
    lagMs: row.lag_ms === null ? undefined : Math.max(0, row.lag_ms),
    timeline: readTimeline(row.timeline),
  };
}

function readTimeline(value: string | number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}
