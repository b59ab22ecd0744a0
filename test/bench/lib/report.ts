import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResult, BenchRow } from './result';
import { BENCH_DIR } from './result';

/**
 * docs/BENCHMARKS.md is generated from test/bench/results/*.json (never edited by hand):
 * one table per figure, the machine and date of each run, the command that reproduces it,
 * and the hand-written closing notes of test/bench/closing-notes.md.
 */
export const DOC_PATH = join(BENCH_DIR, '..', '..', 'docs', 'BENCHMARKS.md');
const NOTES_PATH = join(BENCH_DIR, 'closing-notes.md');

export function formatNumber(value: number | null): string {
  if (value === null) return 'n/a';
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

function formatRatio(r: BenchRow): string {
  if (r.ratio === null) return 'n/a';
  return `${formatNumber(r.ratio)}×`;
}

function met(r: BenchRow): string {
  if (r.met === undefined) return '';
  return r.met ? 'met' : '**MISSED**';
}

function table(result: BenchResult): string {
  const lines = [
    '| metric | unit | baseline (seed-style) | ours | ours / baseline | target | target met? |',
    '|---|---|---:|---:|---:|---|---|',
  ];
  const notes: string[] = [];
  for (const r of result.rows) {
    let metric = r.metric;
    if (r.note) {
      notes.push(r.note);
      metric = `${metric} [${notes.length}]`;
    }
    lines.push(
      `| ${metric} | ${r.unit} | ${formatNumber(r.baseline)} | ${formatNumber(r.ours)} | ${formatRatio(r)} | ${r.target ?? ''} | ${met(r)} |`,
    );
  }
  if (notes.length) lines.push('', ...notes.map((n, i) => `[${i + 1}] ${n}  `));
  return lines.join('\n');
}

function headlines(results: BenchResult[]): string {
  const lines = results.flatMap((r) =>
    r.rows
      .filter((x) => x.headline)
      .map(
        (x) =>
          `- **${r.figure}. ${x.metric}**: baseline ${formatNumber(x.baseline)} → ours ${formatNumber(x.ours)} ${x.unit}${x.ratio !== null ? ` (${formatRatio(x)})` : ''}${x.met === undefined ? '' : x.met ? ', target met' : ', **target missed**'}`,
      ),
  );
  return lines.join('\n');
}

function section(result: BenchResult): string {
  const parts = [`## ${result.figure}. ${result.title}`, ''];
  if (result.status !== 'measured') {
    parts.push(
      `**${result.status === 'partial' ? 'Partly measured' : 'Not measured'}:** ${result.reason ?? ''}`,
      '',
    );
  }
  if (result.rows.length) parts.push(table(result), '');
  if (result.method.length) parts.push(...result.method.map((m) => `- ${m}`), '');
  parts.push(
    `<sub>${result.date} · ${result.durationSeconds.toFixed(0)} s · load avg at start ${result.machine.loadAverage1m} · commit ${result.machine.revision ?? 'unknown'} · \`${result.command}\`</sub>`,
    '',
  );
  return parts.join('\n');
}

function machineLine(results: BenchResult[]): string {
  const m = results[0]?.machine;
  if (!m) return '';
  const total = results.reduce((a, r) => a + r.durationSeconds, 0);
  const first = results.map((r) => r.date).sort()[0] ?? '';
  const last =
    results
      .map((r) => r.date)
      .sort()
      .at(-1) ?? '';
  const shared = results.some((r) => r.machine.shared);
  return [
    `Machine: ${m.nproc} × ${m.cpuModel}, ${m.memoryGiB} GiB; Node ${m.node}, HAProxy ${m.haproxy}, PgBouncer ${m.pgbouncer}, PostgreSQL ${m.postgresql}, pgbench ${m.pgbench}. Results dated ${first.slice(0, 16)}Z to ${last.slice(0, 16)}Z; the figures took ${(total / 60).toFixed(1)} minutes in all.`,
    shared
      ? "The machine was **shared** with other engineers running tests while these numbers were taken (see each figure's load average): absolute times are noisy; baseline and ours always ran in the same run, side by side or interleaved, so the ratios are the numbers to read."
      : 'Nothing else ran on the machine.',
  ].join('\n');
}

function summary(results: BenchResult[]): string {
  const lines = ['| figure | status | targets met | targets missed |', '|---|---|---:|---:|'];
  for (const r of results) {
    const withTarget = r.rows.filter((x) => x.met !== undefined);
    const missed = withTarget.filter((x) => x.met === false).length;
    lines.push(
      `| [${r.figure}. ${r.title}](#${anchor(`${r.figure}. ${r.title}`)}) | ${r.status} | ${withTarget.length - missed} | ${missed} |`,
    );
  }
  return lines.join('\n');
}

function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

function missedList(results: BenchResult[]): string {
  const missed = results.flatMap((r) =>
    r.rows
      .filter((x) => x.met === false)
      .map(
        (x) =>
          `- Figure ${r.figure}, ${x.metric}: ours ${formatNumber(x.ours)} ${x.unit} vs target ${x.target}.`,
      ),
  );
  const notMeasured = results
    .filter((r) => r.status !== 'measured')
    .map((r) => `- Figure ${r.figure} (${r.title}) ${r.status}: ${r.reason ?? ''}`);
  return [...missed, ...notMeasured].join('\n') || '- none';
}

export function renderReport(results: BenchResult[]): string {
  const notes = existsSync(NOTES_PATH) ? readFileSync(NOTES_PATH, 'utf8').trim() : '';
  return [
    '# Benchmarks: aurora-haproxy vs the seed-style baseline',
    '',
    '<!-- Generated by test/bench/run.ts from test/bench/results/*.json. Do not edit by hand. -->',
    '',
    'Every figure runs the seed-style baseline (test/bench/baseline/: a forking `psql` external check, default check timings `inter 2s fall 3 rise 2`, config rewrite + reload with no validation and no server-state file, a per-host RDS poller) and ours in the same run on the same machine. Medians and ratios, not single runs.',
    '',
    'Reproduce: `npm run bench` (all figures, ~12 minutes on 2 cores) or `npm run bench -- <name>` (one figure; names: ' +
      results.map((r) => `\`${r.name}\``).join(', ') +
      '). Results: `test/bench/results/<name>.json`. Benchmarks are not tests and do not run in CI.',
    '',
    machineLine(results),
    '',
    '## Headlines',
    '',
    headlines(results),
    '',
    summary(results),
    '',
    ...results.map(section),
    '## Targets missed and figures not measured',
    '',
    missedList(results),
    '',
    ...(notes ? [notes, ''] : []),
  ].join('\n');
}

export function writeReport(results: BenchResult[]): string {
  writeFileSync(DOC_PATH, renderReport(results));
  return DOC_PATH;
}
