import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { AdminFailure, AdminSuccess, ReconcileRequest } from '../admin/result';
import { formatFleetView } from '../fleet-view/format';

/** The hosts' view under the status (the readers x hosts matrices), or why it is missing. */
export function fleetViewText(result: Extract<AdminSuccess, { action: 'status' }>): string {
  if (result.view) return `\n${formatFleetView(result.view)}`;
  if (result.viewError) return `\nhost reports unavailable: ${result.viewError}\n`;
  return '';
}

/** Human-readable output of the CLI (--json prints the AdminResult itself). */
export function formatSuccess(result: AdminSuccess): string {
  switch (result.action) {
    case 'add':
    case 'update':
      return `${clusterBlock(result.cluster)}\n${reconcileLine(result.reconcile)}\n${warningLines(result.warnings)}`;
    case 'get':
      return `${clusterBlock(result.cluster)}\n`;
    case 'remove': {
      const { clusterId, port, databases } = result.cluster;
      const aliases = databases.map((d) => d.alias).join(', ');
      return `removed ${clusterId} (port ${port}, aliases ${aliases})\n${reconcileLine(result.reconcile)}\n`;
    }
    case 'list':
      return result.clusters.length === 0
        ? 'no clusters registered\n'
        : `${table(
            ['CLUSTER', 'PORT', 'DATABASES', 'BALANCE', 'CHECK', 'FALLBACK', 'VERSION'],
            result.clusters.map((c) => [
              c.clusterId,
              String(c.port),
              databasesText(c),
              c.options.balance,
              c.options.checkMode,
              c.options.fallbackToWriter ? 'writer' : 'no',
              String(c.version),
            ]),
          )}\n`;
    case 'status':
      return `${formatStatus(result.status)}\n${fleetViewText(result)}`;
    case 'reconcile-now':
      return `${reconcileLine(result.reconcile)}\n`;
  }
}

export function formatFailure(result: AdminFailure): string {
  const { code, message, issues } = result.error;
  if (issues && issues.length > 0) {
    return `error [${code}]:\n${issues.map((i) => `  ${i.field}: ${i.message}`).join('\n')}\n`;
  }
  return `error [${code}]: ${message}\n`;
}

function clusterBlock(c: RegistryCluster): string {
  const o = c.options;
  return keyValues([
    ['cluster', c.clusterId],
    ['port', String(c.port)],
    ['databases', databasesText(c)],
    ['balance', o.balance],
    ['check', o.checkMode],
    ['max lag', o.maxReplicaLagMs === undefined ? 'not checked' : `${o.maxReplicaLagMs} ms`],
    ['fallback', o.fallbackToWriter ? 'writer as backup' : 'no'],
    ['weights', o.weights],
    ['affinity', o.azAffinity ? 'own AZ first' : 'no'],
    ['excluded', o.excludeInstances.length > 0 ? o.excludeInstances.join(', ') : '-'],
    ...poolingRows(o),
    [
      'writer',
      o.writer
        ? `${o.writer.alias === o.writer.dbname ? o.writer.alias : `${o.writer.alias}=${o.writer.dbname}`} on port ${o.writer.port}, pool ${o.writer.poolMode}`
        : 'no endpoint',
    ],
    ['version', String(c.version)],
    ['updated', c.updatedAt],
  ]);
}

/** Pooling and slow-start rows, only for a cluster that sets some (others: the host's). */
function poolingRows(o: RegistryCluster['options']): [string, string][] {
  const rows: [string, string][] = [];
  if (o.poolMode !== undefined) rows.push(['pool mode', o.poolMode]);
  if (o.poolSize !== undefined) rows.push(['pool size', String(o.poolSize)]);
  if (o.maxDbConnections !== undefined)
    rows.push(['max db conns', o.maxDbConnections === 0 ? 'no cap' : String(o.maxDbConnections)]);
  if (o.maxPreparedStatements !== undefined)
    rows.push([
      'prepared',
      o.maxPreparedStatements === 0 ? 'off' : `${o.maxPreparedStatements} per server connection`,
    ]);
  if (o.slowStartMs !== undefined)
    rows.push(['slow start', o.slowStartMs === 0 ? 'off' : `${o.slowStartMs} ms`]);
  return rows;
}

function warningLines(warnings: readonly string[] | undefined): string {
  return (warnings ?? []).map((w) => `warning: ${w}\n`).join('');
}

function databasesText(c: RegistryCluster): string {
  return c.databases
    .map((d) => (d.alias === d.dbname ? d.alias : `${d.alias}=${d.dbname}`))
    .join(',');
}

function reconcileLine(r: ReconcileRequest): string {
  return r.triggered
    ? 'reconcile requested'
    : `reconcile NOT requested (${r.error}); the scheduled reconcile will apply the change`;
}

/**
 * The fleet status as `key: value` lines, nested objects indented, arrays of objects as
 * tables: it renders whatever status the orchestrator reports without depending on its shape.
 */
export function formatStatus(value: unknown, indent = ''): string {
  if (value === null || typeof value !== 'object') return `${indent}${scalar(value)}`;
  const lines: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((x) => x && typeof x === 'object' && !Array.isArray(x))
    ) {
      const columns = [...new Set(v.flatMap((row) => Object.keys(row)))];
      lines.push(`${indent}${key}:`);
      const rows = v.map((row) =>
        columns.map((col) => scalar((row as Record<string, unknown>)[col])),
      );
      lines.push(
        ...table(
          columns.map((c) => c.toUpperCase()),
          rows,
        )
          .split('\n')
          .map((l) => `${indent}  ${l}`),
      );
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      lines.push(`${indent}${key}:`, formatStatus(v, `${indent}  `));
    } else {
      lines.push(
        `${indent}${key}: ${Array.isArray(v) ? v.map(scalar).join(', ') || '-' : scalar(v)}`,
      );
    }
  }
  return lines.join('\n');
}

function scalar(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function keyValues(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
