import type { HostReport } from '@aurora-haproxy/contract/host-report';

/**
 * When the reporter writes. Pass conditions (write now when any holds):
 * 1. Nothing was written yet.
 * 2. The last successful write is `heartbeatMs` old or older (the heartbeat that keeps the
 *    report from turning stale; it also refreshes sessions and pool figures).
 * 3. What the report says changed (fingerprint: states, sha, versions, problems; not the
 *    counters, which change all the time) and the last write is at least `minWriteMs` old.
 * Never: while an attempt (even a failed one) is younger than `minWriteMs`, so a failing
 * table is retried at the same bounded rate, never in a loop.
 */
export interface WriteClock {
  lastWriteAt?: number;
  lastAttemptAt?: number;
  lastFingerprint?: string;
}

export interface WriteRate {
  minWriteMs: number;
  heartbeatMs: number;
}

export function shouldWrite(
  clock: WriteClock,
  fingerprint: string,
  now: number,
  rate: WriteRate,
): boolean {
  if (clock.lastAttemptAt !== undefined && now - clock.lastAttemptAt < rate.minWriteMs)
    return false;
  if (clock.lastWriteAt === undefined) return true;
  if (now - clock.lastWriteAt >= rate.heartbeatMs) return true;
  return fingerprint !== clock.lastFingerprint;
}

/** The part of a report whose change is worth an early write. */
export function reportFingerprint(report: HostReport): string {
  return JSON.stringify([
    report.appliedSha256,
    report.haproxyVersion,
    report.pgbouncerVersion,
    report.problems.length,
    (report.secrets ?? []).map((s) => [s.name, s.versionId, s.error ?? '']),
    report.clusters.map((c) => [
      c.backend,
      c.slots.map((s) => [s.slot, s.instanceId ?? '', s.state]),
    ]),
  ]);
}
