import type { Cell, ClusterView, FleetView, HostView } from './view';

/**
 * `clusters status` as text for an 80-column terminal: the hosts (labelled h1, h2, ... in
 * the matrices), then per cluster the readers x hosts matrix with sessions, the imbalance,
 * and the reasons of every cell that is not UP, grouped. Hosts beyond what fits in 80
 * columns continue in a second matrix below. Every line is cut at `width`.
 */
export const STATUS_WIDTH = 80;
const CELL = 7;
const NAME_MAX = 28;

export function formatFleetView(view: FleetView, width = STATUS_WIDTH): string {
  const labels = new Map(view.hosts.map((h, i) => [h.instanceId, `h${i + 1}`]));
  const lines: string[] = [];
  lines.push(
    `hosts (a report older than ${Math.round(view.staleAfterMs / 1000)} s is stale)`,
    ...hostLines(view.hosts, labels),
  );
  if (view.staleHosts.length > 0) {
    lines.push(`STALE: ${view.staleHosts.map((id) => `${labels.get(id)} ${id}`).join(', ')}`);
  }
  if (view.clusters.length === 0) lines.push('', 'no clusters');
  for (const cluster of view.clusters)
    lines.push('', ...clusterLines(cluster, view.hosts, labels, width));
  return `${lines.map((l) => cut(l, width)).join('\n')}\n`;
}

function hostLines(hosts: readonly HostView[], labels: Map<string, string>): string[] {
  if (hosts.length === 0) return ['  no host has reported'];
  const header = `  ${'HOST'.padEnd(5)}${'INSTANCE'.padEnd(20)}${'AGE'.padEnd(6)}${'SHA'.padEnd(9)}${'HAPROXY'.padEnd(17)}${'PGBOUNCER'.padEnd(10)}CL/WAIT`;
  return [
    header,
    ...hosts.map((h) => {
      const age = h.invalid
        ? 'BAD'
        : h.ageMs === null
          ? '-'
          : h.stale
            ? 'STALE'
            : `${Math.max(0, Math.round(h.ageMs / 1000))}s`;
      const pools = h.pools ? `${h.pools.clientsActive}/${h.pools.clientsWaiting}` : '-';
      const detail = h.invalid ? `invalid report: ${h.invalid}` : undefined;
      return (
        `  ${(labels.get(h.instanceId) ?? '?').padEnd(5)}${clip(h.instanceId, 19).padEnd(20)}` +
        `${age.padEnd(6)}${(h.appliedSha256?.slice(0, 8) ?? '-').padEnd(9)}` +
        (detail ??
          `${clip(h.haproxyVersion ?? '-', 16).padEnd(17)}${clip(h.pgbouncerVersion ?? '-', 9).padEnd(10)}${pools}`)
      );
    }),
    ...hosts.flatMap((h) => h.problems.map((p) => `  ${labels.get(h.instanceId)}: ${p}`)),
  ];
}

function clusterLines(
  cluster: ClusterView,
  hosts: readonly HostView[],
  labels: Map<string, string>,
  width: number,
): string[] {
  const lines: string[] = [];
  const fresh = hosts.filter((h) => !h.stale).length;
  const withUp = fresh - cluster.hostsWithoutReaderUp.length;
  const imbalance = cluster.imbalance === null ? '-' : cluster.imbalance.toFixed(2);
  lines.push(
    `cluster ${cluster.clusterId}${cluster.registered ? '' : ' (not registered)'}: ` +
      `reader UP on ${withUp}/${fresh} hosts, ${cluster.sessions} sessions, imbalance ${imbalance}`,
  );
  if (cluster.hostsWithoutReaderUp.length > 0) {
    lines.push(
      `  NO READER UP on ${cluster.hostsWithoutReaderUp.map((id) => labels.get(id) ?? id).join(', ')}`,
    );
  }
  if (cluster.writer) lines.push(...writerLines(cluster.writer, fresh, labels));
  if (cluster.readers.length === 0) {
    lines.push('  no host reports a reader of this cluster');
    return lines;
  }
  const nameWidth = Math.min(NAME_MAX, Math.max(6, ...cluster.readers.map((r) => label(r).length)));
  const fixed = 2 + nameWidth + 2 + 6;
  const perBlock = Math.max(1, Math.floor((width - fixed) / CELL));
  for (let start = 0; start < hosts.length || start === 0; start += perBlock) {
    const block = hosts.slice(start, start + perBlock);
    lines.push(
      `  ${'READER'.padEnd(nameWidth)}  ${'SESS'.padStart(5)} ${block.map((h) => (labels.get(h.instanceId) ?? '?').padEnd(CELL)).join('')}`.trimEnd(),
    );
    for (const r of cluster.readers) {
      lines.push(
        `  ${clip(label(r), nameWidth).padEnd(nameWidth)}  ${String(r.sessions).padStart(5)} ${block
          .map((h) => cellText(r.cells[h.instanceId]).padEnd(CELL))
          .join('')}`.trimEnd(),
      );
    }
    if (hosts.length === 0) break;
  }
  lines.push(...reasonLines(cluster, labels));
  return lines;
}

/** The writer endpoint: which instance is UP, on how many fresh hosts; hosts with none. */
function writerLines(
  writer: NonNullable<ClusterView['writer']>,
  fresh: number,
  labels: Map<string, string>,
): string[] {
  const host = (id: string) => labels.get(id) ?? id;
  const byWriter = new Map<string, string[]>();
  for (const [hostId, up] of Object.entries(writer.upOn)) {
    if (up.length === 1)
      byWriter.set(up[0] as string, [...(byWriter.get(up[0] as string) ?? []), hostId]);
  }
  const summary = [...byWriter]
    .map(([id, on]) => `${id} UP on ${on.length}/${fresh} hosts`)
    .join(', ');
  const lines = [
    `  writer endpoint ${writer.backend}: ${summary || 'no writer UP'}, ${writer.sessions} sessions`,
  ];
  for (const hostId of writer.hostsWithoutWriter) {
    lines.push(`  NO WRITER UP on ${host(hostId)}: ${writer.reasons[hostId] ?? ''}`);
  }
  for (const hostId of writer.hostsWithSeveral) {
    lines.push(
      `  SEVERAL WRITERS UP on ${host(hostId)}: ${(writer.upOn[hostId] ?? []).join(', ')}`,
    );
  }
  return lines;
}

function label(r: ClusterView['readers'][number]): string {
  return r.role === 'writer' ? `${r.instanceId} (w)` : r.instanceId;
}

function cellText(cell: Cell | undefined): string {
  if (!cell || cell.state === 'ABSENT') return '-';
  return cell.state;
}

/** Every cell that is not UP, one line per reader, state and reason (hosts grouped). */
function reasonLines(cluster: ClusterView, labels: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const r of cluster.readers) {
    const groups = new Map<string, string[]>();
    for (const [hostId, cell] of Object.entries(r.cells)) {
      if (cell.state === 'UP' || cell.state === 'STALE') continue;
      const key = `${cell.state}: ${cell.reason}`;
      groups.set(key, [...(groups.get(key) ?? []), labels.get(hostId) ?? hostId]);
    }
    for (const [text, on] of groups)
      lines.push(`  ${r.instanceId} on ${on.sort().join(',')}: ${text}`);
  }
  return lines;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}~`;
}

function cut(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, width - 1)}~`;
}
