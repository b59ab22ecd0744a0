import type { AgentStatus } from './status';

/** The human view of `status`: a header and one table row per HAProxy server slot. */
export function formatStatus(status: AgentStatus): string {
  const lines: string[] = [];
  lines.push(`applied bundle: ${status.appliedSha256 ?? '(none)'}`);
  const last = status.lastResult;
  if (last) {
    lines.push(
      `last apply:     ${last.ok ? 'ok' : 'FAILED'} ${last.action} ${last.sha256.slice(0, 12)} in ${last.durationMs} ms at ${last.finishedAt}${last.error ? `: ${last.error}` : ''}`,
    );
  }
  if (status.inProgress) {
    lines.push(
      `interrupted:    apply of ${status.inProgress.sha256.slice(0, 12)} (pid ${status.inProgress.pid}) did not finish; the next apply reloads`,
    );
  }
  if (status.refused) {
    lines.push(
      `refused:        ${status.refused.sha256.slice(0, 12)} ${status.refused.count} time(s), last at ${status.refused.at}: ${status.refused.reason}`,
    );
  }
  lines.push(
    `versions:       haproxy ${status.versions.haproxy ?? '(unknown)'}, pgbouncer ${status.versions.pgbouncer ?? '(unknown)'}`,
  );
  if (status.stateError) lines.push(`state error:    ${status.stateError}`);
  lines.push(
    status.health.reachable
      ? `health daemon:  up, probing bundle ${status.health.sha256?.slice(0, 12) ?? '(none)'}`
      : `health daemon:  unreachable (${status.health.error})`,
  );
  if (!status.haproxy.reachable) {
    lines.push(`haproxy:        unreachable (${status.haproxy.error})`);
    return `${lines.join('\n')}\n`;
  }
  const header = [
    'BACKEND',
    'SLOT',
    'INSTANCE',
    'ROLE',
    'ADDRESS',
    'HEALTH',
    'ADMIN',
    'WEIGHT',
    'VERDICT',
  ];
  const rows = status.haproxy.servers.map((s) => [
    s.backend,
    s.server,
    s.instanceId ?? '-',
    s.role ?? '-',
    `${s.address}:${s.port}`,
    s.health,
    s.admin,
    String(s.weight),
    s.verdict
      ? `${s.verdict.pass ? 'pass' : 'fail'} ${s.verdict.reason}${s.verdict.ageMs === undefined ? '' : ` (${s.verdict.ageMs} ms)`}`
      : '-',
  ]);
  lines.push('', ...table([header, ...rows]));
  return `${lines.join('\n')}\n`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}
