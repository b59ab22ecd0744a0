import { describe, expect, it } from 'vitest';
import type { MachineInfo } from '../../bench/lib/machine';
import { renderReport } from '../../bench/lib/report';
import { type BenchResult, row } from '../../bench/lib/result';
import {
  currentStack,
  groupByFigure,
  parseResultFileName,
  resultFileName,
  StackLabelError,
  shortOs,
} from '../../bench/lib/stacks';

/**
 * The benchmarks' two host stacks (test/bench/lib/stacks.ts): result file names, BENCH_STACK,
 * grouping by figure, and the report's side-by-side tables. Benchmarks themselves never run
 * in tests; this is the logic around their results.
 */
const machine = (os: string, haproxy: string, pgbouncer: string, postgresql: string) =>
  ({
    os,
    nproc: 2,
    cpuModel: 'AMD EPYC',
    memoryGiB: 24,
    node: 'v20.20.2',
    haproxy,
    pgbouncer,
    postgresql,
    pgbench: postgresql,
    loadAverage1m: 3.2,
    shared: true,
    revision: 'abc1234',
  }) satisfies MachineInfo;
const debian12 = machine('Debian GNU/Linux 12 (bookworm)', '2.6.12', '1.18.0', '15.18');
const debian13 = machine('Debian GNU/Linux 13 (trixie)', '3.0.11', '1.24.1', '17.6');

function result(
  name: string,
  figure: number,
  stack: string | undefined,
  ours: number,
): BenchResult {
  return {
    name,
    ...(stack === undefined ? {} : { stack }),
    figure,
    title: `Figure ${name}`,
    status: 'measured',
    rows: [
      row('convergence median', 's', 6, ours, {
        target: '≤ 1 s',
        met: ours <= 1,
        headline: true,
        note: stack ? 'chroot' : 'host',
      }),
      row('failed reads', 'reads', 0, 1),
    ],
    method: ['10 trials.', ...(stack ? ['Only on the chroot.'] : [])],
    machine: stack ? debian13 : debian12,
    date: stack ? '2026-12-02T14:10:00.000Z' : '2026-12-02T14:00:00.000Z',
    durationSeconds: 120,
    command: stack ? `bash .ci/debian13-leg.sh bench ${name}` : `npm run bench -- ${name}`,
  };
}

describe('result file names', () => {
  it.each([
    ['failover', undefined, 'failover.json'],
    ['failover', 'debian13', 'failover.debian13.json'],
    ['apply-latency', 'debian13', 'apply-latency.debian13.json'],
  ])('%s on %s -> %s, and back', (name, stack, file) => {
    expect(resultFileName(name, stack)).toBe(file);
    expect(parseResultFileName(file)).toEqual(stack === undefined ? { name } : { name, stack });
  });

  it.each(['failover.txt', 'Failover.json', 'a.b.c.json', '.json', 'failover..json'])(
    '%s is not a result file name',
    (file) => {
      expect(parseResultFileName(file)).toBeUndefined();
    },
  );

  it('refuses a stack label that would make another path', () => {
    expect(() => resultFileName('failover', '../x')).toThrow(StackLabelError);
    expect(() => resultFileName('failover', 'Debian 13')).toThrow(/stack label/);
  });
});

describe('BENCH_STACK', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['debian13', 'debian13'],
  ])('%s -> %s', (value, stack) => {
    expect(currentStack(value === undefined ? {} : { BENCH_STACK: value })).toBe(stack);
  });

  it('a bad label is refused with a message naming it', () => {
    expect(() => currentStack({ BENCH_STACK: 'debian/13' })).toThrow(
      /BENCH_STACK="debian\/13" is not a stack label/,
    );
  });

  it('shortOs keeps the distribution and version', () => {
    expect(shortOs('Debian GNU/Linux 13 (trixie)')).toBe('Debian 13');
    expect(shortOs(undefined)).toBe('this machine');
  });
});

describe('grouping by figure', () => {
  it("puts the machine's own result first, then the other stacks, figures in order", () => {
    const groups = groupByFigure([
      result('hitless-change', 4, 'debian13', 0),
      result('failover', 3, 'debian13', 0.2),
      result('check-cost', 1, undefined, 2),
      result('failover', 3, undefined, 0.1),
    ]);
    expect(groups.map((g) => [g.name, g.byStack.map((r) => r.stack ?? 'machine')])).toEqual([
      ['check-cost', ['machine']],
      ['failover', ['machine', 'debian13']],
      ['hitless-change', ['debian13']],
    ]);
  });

  it('two results for one figure on one stack are an error naming it', () => {
    expect(() =>
      groupByFigure([result('failover', 3, 'debian13', 1), result('failover', 3, 'debian13', 2)]),
    ).toThrow(/two results for failover on stack debian13/);
  });
});

describe('report', () => {
  const doc = renderReport([
    result('check-cost', 1, undefined, 2),
    result('failover', 3, undefined, 0.1),
    result('failover', 3, 'debian13', 1.5),
  ]);
  const sectionOf = (heading: string) => {
    const start = doc.indexOf(heading);
    return doc.slice(start, doc.indexOf('\n## ', start + 1));
  };

  it('a figure measured on both stacks has one table with baseline, ours and ratio per stack', () => {
    const failover = sectionOf('## 3. Figure failover');
    expect(failover).toContain(
      '| metric | unit | Debian 12 baseline | Debian 12 ours | Debian 12 ours / baseline | Debian 13 baseline | Debian 13 ours | Debian 13 ours / baseline | target | target met? (Debian 12 / Debian 13) |',
    );
    expect(failover).toContain(
      '| convergence median [1] | s | 6.00 | 0.10 | 0.017× | 6.00 | 1.50 | 0.25× | ≤ 1 s | met / **MISSED** |',
    );
    expect(failover).toContain('[1] Debian 12: host · Debian 13: chroot');
    expect(failover).toContain('- Debian 13: Only on the chroot.');
  });

  it("each stack's footer names its versions and the command that reruns it", () => {
    const failover = sectionOf('## 3. Figure failover');
    expect(failover).toContain(
      '<sub>Debian 12 (HAProxy 2.6.12, PgBouncer 1.18.0, PostgreSQL 15.18): 2026-12-02T14:00:00.000Z',
    );
    expect(failover).toContain(
      '<sub>Debian 13 (HAProxy 3.0.11, PgBouncer 1.24.1, PostgreSQL 17.6): 2026-12-02T14:10:00.000Z',
    );
    expect(failover).toContain('`bash .ci/debian13-leg.sh bench failover`');
  });

  it('a figure measured on one stack keeps the single table', () => {
    const cost = sectionOf('## 1. Figure check-cost');
    expect(cost).toContain('| metric | unit | baseline (seed-style) | ours | ours / baseline |');
    expect(cost).not.toContain('Debian 13');
  });

  it('headlines, summary, machine line and misses say which stack', () => {
    expect(doc).toContain(
      '- **3. convergence median**: Debian 12 baseline 6.00 → ours 0.10 s (0.017×), target met; Debian 13 baseline 6.00 → ours 1.50 s (0.25×), **target missed**',
    );
    expect(doc).toContain('(Debian 12 / Debian 13) | measured / measured | 1 / 0 | 0 / 1 |');
    expect(doc).toContain(
      'Figures 3 also ran on Debian GNU/Linux 13 (trixie) (`bash .ci/debian13-leg.sh bench <name>...`, results `<name>.debian13.json`): HAProxy 3.0.11, PgBouncer 1.24.1, PostgreSQL 17.6',
    );
    expect(doc).toContain(
      '- Figure 3 on Debian 13, convergence median: ours 1.50 s vs target ≤ 1 s.',
    );
  });
});
