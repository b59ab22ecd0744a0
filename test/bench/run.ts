import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { stopAll } from '../../packages/local-stack/process/managed-process';
import { benchmarks } from './benchmarks/index';
import type { Benchmark } from './lib/benchmark';
import { machineInfo } from './lib/machine';
import { writeReport } from './lib/report';
import { type BenchResult, readResults, writeResult } from './lib/result';
import { currentStack } from './lib/stacks';

/**
 * `npm run bench` runs every benchmark; `npm run bench -- <name> [<name>...]` runs those;
 * `npm run bench -- --report` only regenerates docs/BENCHMARKS.md from the stored results;
 * `npm run bench -- --list` prints the names. Each benchmark writes
 * test/bench/results/<name>.json; the report is regenerated from all stored results at the end.
 * On another host stack (`bash .ci/debian13-leg.sh bench <name>...` runs this file in the
 * Debian 13 chroot with BENCH_STACK=debian13 and BENCH_COMMAND) the file is
 * results/<name>.<stack>.json and the report shows the stacks side by side (lib/stacks.ts).
 * Exit code 1 when a benchmark failed to run (a missed target is a result, not a failure).
 *
 * Each benchmark runs in a child process of its own (`run.ts --child <name>`): the local
 * stack's Lambda handlers keep their SDK clients (and endpoints) at module scope, so two
 * stacks in one process would talk to the first one's stand-ins; a fresh process also ends
 * every process the benchmark started (exit hooks) even if it crashes.
 */
/** How to rerun one figure on the stack this process runs on. */
function commandFor(name: string): string {
  return `${process.env.BENCH_COMMAND ?? 'npm run bench --'} ${name}`;
}

/** The result's identity on this stack: name, figure, title and (when not the machine's) stack. */
function identity(bench: Benchmark, stack: string | undefined) {
  return {
    name: bench.name,
    ...(stack === undefined ? {} : { stack }),
    figure: bench.figure,
    title: bench.title,
  };
}

async function runOne(bench: Benchmark): Promise<BenchResult> {
  const stack = currentStack();
  const machine = machineInfo();
  const started = Date.now();
  process.stdout.write(`\n== ${bench.name} (figure ${bench.figure}: ${bench.title})\n`);
  let outcome: Awaited<ReturnType<Benchmark['run']>>;
  try {
    outcome = await bench.run();
  } catch (error) {
    const message = errorMessage(error);
    process.stdout.write(`   failed: ${message}\n`);
    if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    outcome = { status: 'not-measured', reason: message, rows: [], method: [] };
  } finally {
    await stopAll();
  }
  const result: BenchResult = {
    ...identity(bench, stack),
    ...outcome,
    machine,
    date: new Date().toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    command: commandFor(bench.name),
  };
  const file = writeResult(result);
  process.stdout.write(
    `   ${result.status} in ${result.durationSeconds.toFixed(1)} s -> ${file}\n`,
  );
  for (const r of result.rows) {
    process.stdout.write(
      `   ${r.metric}: baseline ${r.baseline} ours ${r.ours}${r.ratio !== null ? ` ratio ${r.ratio.toFixed(3)}` : ''}${r.met === undefined ? '' : r.met ? ' [met]' : ' [MISSED]'}\n`,
    );
  }
  return result;
}

/** Run one benchmark in a child process; false when it did not produce a measured result. */
async function runInChild(bench: Benchmark): Promise<boolean> {
  const stack = currentStack();
  const started = new Date().toISOString();
  const code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', bench.name],
      { stdio: 'inherit' },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  const result = readResults().find(
    (r) => r.name === bench.name && r.stack === stack && r.date >= started,
  );
  if (code > 1 || !result) {
    // The child died before writing its result: record that, never a stale result.
    writeResult({
      ...identity(bench, stack),
      status: 'not-measured',
      reason: `the benchmark process exited with code ${code} before writing a result`,
      rows: [],
      method: [],
      machine: machineInfo(),
      date: new Date().toISOString(),
      durationSeconds: 0,
      command: commandFor(bench.name),
    });
    return false;
  }
  return code === 0;
}

async function main(argv: string[]): Promise<number> {
  const childAt = argv.indexOf('--child');
  if (childAt >= 0) {
    const bench = benchmarks.find((b) => b.name === argv[childAt + 1]);
    if (!bench) return 2;
    const result = await runOne(bench);
    return result.status === 'not-measured' ? 1 : 0;
  }
  if (argv.includes('--list')) {
    for (const b of benchmarks) process.stdout.write(`${b.name}\tfigure ${b.figure}: ${b.title}\n`);
    return 0;
  }
  if (!argv.includes('--report')) {
    currentStack(); // a bad BENCH_STACK is refused before anything runs
    const names = argv.filter((a) => !a.startsWith('--'));
    const unknown = names.filter((n) => !benchmarks.some((b) => b.name === n));
    if (unknown.length) {
      process.stderr.write(
        `unknown benchmark ${unknown.join(', ')}; known: ${benchmarks.map((b) => b.name).join(', ')}\n`,
      );
      return 2;
    }
    const selected = names.length ? benchmarks.filter((b) => names.includes(b.name)) : benchmarks;
    let failed = 0;
    for (const bench of selected) {
      const ok = await runInChild(bench);
      if (!ok) failed += 1;
    }
    const doc = writeReport(readResults());
    process.stdout.write(`\nreport: ${doc}\n`);
    return failed ? 1 : 0;
  }
  const doc = writeReport(readResults());
  process.stdout.write(`report: ${doc}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (error) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    await stopAll();
    process.exit(1);
  },
);
