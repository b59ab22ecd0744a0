import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResult, BenchRow } from './result';
import { BENCH_DIR } from './result';
import { type FigureResults, groupByFigure, stackName } from './stacks';

/**
 * docs/BENCHMARKS.md is generated from test/bench/results/*.json (never edited by hand):
 * one table per figure, the machine and date of each run, the command that reproduces it,
 * and the hand-written closing notes of test/bench/closing-notes.md. A figure also measured on
 * another host stack (results/<name>.<stack>.json, stacks.ts) gets one table with each stack's
 * baseline, ours and ratio side by side, and each stack's versions in its footer.
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

/** "met", "**MISSED**" or "" per stack, joined by " / " when the figure has several. */
function metAcross(rows: (BenchRow | undefined)[]): string {
  if (rows.every((r) => r?.met === undefined)) return '';
  return rows.map((r) => (r ? met(r) || '–' : '–')).join(' / ');
}

function sideBySide(group: FigureResults): string {
  const stacks = group.byStack;
  const names = stacks.map(stackName);
  const metrics: string[] = [];
  for (const result of stacks) {
    for (const r of result.rows) if (!metrics.includes(r.metric)) metrics.push(r.metric);
  }
  const lines = [
    `| metric | unit | ${names.map((n) => `${n} baseline | ${n} ours | ${n} ours / baseline`).join(' | ')} | target | target met? (${names.join(' / ')}) |`,
    `|---|---|${names.map(() => '---:|---:|---:|').join('')}---|---|`,
  ];
  const notes: string[] = [];
  for (const metric of metrics) {
    const rows = stacks.map((result) => result.rows.find((r) => r.metric === metric));
    const present = rows.filter((r): r is BenchRow => r !== undefined);
    const first = present[0] as BenchRow;
    const rowNotes = rows.map((r, i) => (r?.note ? { stack: names[i], note: r.note } : undefined));
    const distinct = new Set(rowNotes.filter((n) => n).map((n) => n?.note));
    let label = metric;
    if (distinct.size > 0) {
      notes.push(
        distinct.size === 1 && rowNotes.every((n) => n)
          ? (first.note as string)
          : rowNotes
              .filter((n) => n)
              .map((n) => `${n?.stack}: ${n?.note}`)
              .join(' · '),
      );
      label = `${metric} [${notes.length}]`;
    }
    const cells = rows.map((r) =>
      r ? `${formatNumber(r.baseline)} | ${formatNumber(r.ours)} | ${formatRatio(r)}` : '– | – | –',
    );
    lines.push(
      `| ${label} | ${first.unit} | ${cells.join(' | ')} | ${present.find((r) => r.target)?.target ?? ''} | ${metAcross(rows)} |`,
    );
  }
  if (notes.length) lines.push('', ...notes.map((n, i) => `[${i + 1}] ${n}  `));
  return lines.join('\n');
}

function headlines(groups: FigureResults[]): string {
  const one = (x: BenchRow) =>
    `baseline ${formatNumber(x.baseline)} → ours ${formatNumber(x.ours)} ${x.unit}${x.ratio !== null ? ` (${formatRatio(x)})` : ''}${x.met === undefined ? '' : x.met ? ', target met' : ', **target missed**'}`;
  const lines = groups.flatMap((g) => {
    const [primary, ...others] = g.byStack as [BenchResult, ...BenchResult[]];
    return primary.rows
      .filter((x) => x.headline)
      .map((x) => {
        if (others.length === 0) return `- **${g.figure}. ${x.metric}**: ${one(x)}`;
        const also = others.flatMap((o) => {
          const same = o.rows.find((r) => r.metric === x.metric);
          return same ? [`${stackName(o)} ${one(same)}`] : [];
        });
        return `- **${g.figure}. ${x.metric}**: ${[`${stackName(primary)} ${one(x)}`, ...also].join('; ')}`;
      });
  });
  return lines.join('\n');
}

function footer(result: BenchResult, withStack: boolean): string {
  const m = result.machine;
  const stack = withStack
    ? `${stackName(result)} (HAProxy ${m.haproxy}, PgBouncer ${m.pgbouncer}, PostgreSQL ${m.postgresql}): `
    : '';
  return `<sub>${stack}${result.date} · ${result.durationSeconds.toFixed(0)} s · load avg at start ${m.loadAverage1m} · commit ${m.revision ?? 'unknown'} · \`${result.command}\`</sub>`;
}

function section(group: FigureResults): string {
  const { byStack } = group;
  const several = byStack.length > 1;
  const parts = [`## ${group.figure}. ${group.title}`, ''];
  for (const result of byStack) {
    if (result.status !== 'measured') {
      const on = several ? ` on ${stackName(result)}` : '';
      parts.push(
        `**${result.status === 'partial' ? 'Partly measured' : 'Not measured'}${on}:** ${result.reason ?? ''}`,
        '',
      );
    }
  }
  if (several) {
    if (byStack.some((r) => r.rows.length)) parts.push(sideBySide(group), '');
  } else if ((byStack[0] as BenchResult).rows.length) {
    parts.push(table(byStack[0] as BenchResult), '');
  }
  const [primary, ...others] = byStack as [BenchResult, ...BenchResult[]];
  const method = [
    ...primary.method,
    ...others.flatMap((o) =>
      o.method.filter((m) => !primary.method.includes(m)).map((m) => `${stackName(o)}: ${m}`),
    ),
  ];
  if (method.length) parts.push(...method.map((m) => `- ${m}`), '');
  for (const result of byStack) parts.push(`${footer(result, several)}${several ? '  ' : ''}`);
  parts.push('');
  return parts.join('\n');
}

function versions(m: BenchResult['machine']): string {
  return `HAProxy ${m.haproxy}, PgBouncer ${m.pgbouncer}, PostgreSQL ${m.postgresql}, pgbench ${m.pgbench}`;
}

function machineLine(results: BenchResult[]): string {
  const primary = results.filter((r) => r.stack === undefined);
  const m = (primary[0] ?? results[0])?.machine;
  if (!m) return '';
  const total = results.reduce((a, r) => a + r.durationSeconds, 0);
  const first = results.map((r) => r.date).sort()[0] ?? '';
  const last =
    results
      .map((r) => r.date)
      .sort()
      .at(-1) ?? '';
  const shared = results.some((r) => r.machine.shared);
  // Older results do not record the OS: take it from any of this stack's results that does.
  const os = primary.find((r) => r.machine.os)?.machine.os;
  const labels = [...new Set(results.flatMap((r) => (r.stack === undefined ? [] : [r.stack])))];
  const otherStacks = labels.map((label) => {
    const on = results.filter((r) => r.stack === label);
    const x = on[0] as BenchResult;
    const command = x.command.slice(0, x.command.length - x.name.length).trim();
    return `Figures ${on.map((r) => r.figure).join(', ')} also ran on ${x.machine.os ?? label} (\`${command} <name>...\`, results \`<name>.${label}.json\`): ${versions(x.machine)}, the same Node and CPUs.`;
  });
  return [
    `Machine: ${m.nproc} × ${m.cpuModel}, ${m.memoryGiB} GiB; ${os ? `${os}; ` : ''}Node ${m.node}, ${versions(m)}. Results dated ${first.slice(0, 16)}Z to ${last.slice(0, 16)}Z; the figures took ${(total / 60).toFixed(1)} minutes in all.`,
    ...otherStacks,
    shared
      ? "The machine was **shared** with other engineers running tests while these numbers were taken (see each figure's load average): absolute times are noisy; baseline and ours always ran in the same run, side by side or interleaved, so the ratios are the numbers to read."
      : 'Nothing else ran on the machine.',
  ].join('\n');
}

function summary(groups: FigureResults[]): string {
  const lines = ['| figure | status | targets met | targets missed |', '|---|---|---:|---:|'];
  for (const g of groups) {
    const per = g.byStack.map((r) => {
      const withTarget = r.rows.filter((x) => x.met !== undefined);
      const missed = withTarget.filter((x) => x.met === false).length;
      return { status: r.status, met: withTarget.length - missed, missed };
    });
    const several = g.byStack.length > 1;
    const join = (f: (p: (typeof per)[number]) => string | number) =>
      several ? per.map(f).join(' / ') : String(f(per[0] as (typeof per)[number]));
    const stacks = several ? ` (${g.byStack.map(stackName).join(' / ')})` : '';
    lines.push(
      `| [${g.figure}. ${g.title}](#${anchor(`${g.figure}. ${g.title}`)})${stacks} | ${join((p) => p.status)} | ${join((p) => p.met)} | ${join((p) => p.missed)} |`,
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
  const on = (r: BenchResult) => (r.stack === undefined ? '' : ` on ${stackName(r)}`);
  const missed = results.flatMap((r) =>
    r.rows
      .filter((x) => x.met === false)
      .map(
        (x) =>
          `- Figure ${r.figure}${on(r)}, ${x.metric}: ours ${formatNumber(x.ours)} ${x.unit} vs target ${x.target}.`,
      ),
  );
  const notMeasured = results
    .filter((r) => r.status !== 'measured')
    .map((r) => `- Figure ${r.figure} (${r.title})${on(r)} ${r.status}: ${r.reason ?? ''}`);
  return [...missed, ...notMeasured].join('\n') || '- none';
}

export function renderReport(results: BenchResult[]): string {
  const notes = existsSync(NOTES_PATH) ? readFileSync(NOTES_PATH, 'utf8').trim() : '';
  const groups = groupByFigure(results);
  return [
    '# Benchmarks: aurora-haproxy vs the seed-style baseline',
    '',
    '<!-- Generated by test/bench/run.ts from test/bench/results/*.json. Do not edit by hand. -->',
    '',
    'Every figure runs the seed-style baseline (test/bench/baseline/: a forking `psql` external check, default check timings `inter 2s fall 3 rise 2`, config rewrite + reload with no validation and no server-state file, a per-host RDS poller) and ours in the same run on the same machine. Medians and ratios, not single runs.',
    '',
    'Reproduce: `npm run bench` (all figures, ~12 minutes on 2 cores) or `npm run bench -- <name>` (one figure; names: ' +
      groups.map((g) => `\`${g.name}\``).join(', ') +
      "). Results: `test/bench/results/<name>.json`. On the Debian 13 stack (a chroot, `.ci/debian13-leg.sh`): `bash .ci/debian13-leg.sh bench <name>...`, results `test/bench/results/<name>.debian13.json`, shown side by side with this machine's. Benchmarks are not tests and do not run in CI.",
    '',
    machineLine(results),
    '',
    '## Headlines',
    '',
    headlines(groups),
    '',
    summary(groups),
    '',
    ...groups.map(section),
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
