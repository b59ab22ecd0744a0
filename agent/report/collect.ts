import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { HostReport, SecretReport } from '@aurora-haproxy/contract/host-report';
import { HaproxyRuntimeApi, parseStatCsv } from '../haproxy/runtime-api';
import type { SlotVerdict } from '../health/health-monitor';
import type { WatchedSecretStatus } from '../secrets/status';
import { clusterReports, haproxyVersionOf } from './haproxy-view';
import type { PgbouncerView } from './pgbouncer-view';

/**
 * One sample of this host's view: the daemon's verdicts (which follow the applied bundle),
 * HAProxy's stats socket (`show stat`, `show info`) and PgBouncer's console. A part that
 * cannot be read leaves its fields empty and says why in `problems`; the report is still
 * written (a host whose HAProxy is down must say so, not go silent).
 */
export interface ReportSources {
  verdicts: { readonly sha256: string | null; snapshot(now: number): SlotVerdict[] };
  haproxy: Pick<HaproxyRuntimeApi, 'command'>;
  pgbouncer?: Pick<PgbouncerView, 'read'>;
  /** The rotating secrets this host follows (version in use, why a new one is not). */
  secrets?: () => WatchedSecretStatus[];
  now: () => number;
}

export function runtimeApi(statsSocket: string): HaproxyRuntimeApi {
  return new HaproxyRuntimeApi(statsSocket, 2_000);
}

export async function collectReport(sources: ReportSources): Promise<HostReport> {
  const now = sources.now();
  const problems: string[] = [];
  const verdicts = sources.verdicts.snapshot(now);
  let statRows: Record<string, string>[] = [];
  let haproxyVersion: string | null = null;
  let haproxyProblem: string | undefined;
  try {
    statRows = parseStatCsv(await sources.haproxy.command('show stat'));
    haproxyVersion = haproxyVersionOf(await sources.haproxy.command('show info'));
  } catch (error) {
    haproxyProblem = `haproxy unreachable: ${errorMessage(error)}`.slice(0, 200);
    problems.push(haproxyProblem);
  }
  let pgbouncerVersion: string | null = null;
  let pools: HostReport['pools'] = [];
  if (sources.pgbouncer) {
    try {
      ({ version: pgbouncerVersion, pools } = await sources.pgbouncer.read());
    } catch (error) {
      problems.push(`pgbouncer: ${errorMessage(error)}`.slice(0, 200));
    }
  }
  const secrets = (sources.secrets?.() ?? []).slice(0, 4).map(secretReport);
  for (const s of secrets) if (s.error) problems.push(`${s.name} secret: ${s.error}`.slice(0, 200));
  return {
    reportedAt: now,
    appliedSha256: sources.verdicts.sha256,
    haproxyVersion,
    pgbouncerVersion,
    problems,
    // The contract's bounds (packages/contract/src/host-report.ts), so the reader never refuses it.
    clusters: clusterReports(statRows, verdicts, haproxyProblem)
      .slice(0, 500)
      .map((c) => ({ ...c, slots: c.slots.slice(0, 64) })),
    pools,
    ...(secrets.length > 0 ? { secrets } : {}),
  };
}

/** A secret's status within the contract's bounds. */
function secretReport(s: WatchedSecretStatus): SecretReport {
  return {
    name: s.name,
    secretId: s.secretId.slice(0, 2048),
    versionId: s.versionId?.slice(0, 64) ?? null,
    appliedAt: s.appliedAt,
    checkedAt: s.checkedAt,
    ...(s.error ? { error: s.error.slice(0, 200) } : {}),
  };
}
