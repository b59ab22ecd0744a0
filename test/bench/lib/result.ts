import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from './machine';
import { parseResultFileName, resultFileName } from './stacks';

/**
 * What every benchmark writes to test/bench/results/<name>.json (<name>.<stack>.json when run
 * on another host stack, stacks.ts), and what run.ts turns into the tables of
 * docs/BENCHMARKS.md. One row is one metric measured for the seed-style
 * baseline and for ours in the same run.
 */
export interface BenchRow {
  metric: string;
  unit: string;
  /** null: not applicable to that side (said in `note`). */
  baseline: number | null;
  ours: number | null;
  /** ours / baseline when both are numbers and baseline is not 0. */
  ratio: number | null;
  /** The target for this metric, in words (e.g. "<= 0.1 x baseline"). */
  target?: string;
  /** Whether the target was met; absent when the row has no target. */
  met?: boolean;
  note?: string;
  /** Quoted in the document's headline list. */
  headline?: boolean;
}

export type BenchStatus = 'measured' | 'partial' | 'not-measured';

export interface BenchResult {
  name: string;
  /** The host stack when not this machine's own (BENCH_STACK, e.g. debian13); see stacks.ts. */
  stack?: string;
  figure: number;
  title: string;
  status: BenchStatus;
  /** Why a figure (or part of it) could not be measured. */
  reason?: string;
  rows: BenchRow[];
  /** How it was measured, in a few sentences (shown under the table). */
  method: string[];
  machine: MachineInfo;
  date: string;
  durationSeconds: number;
  command: string;
}

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const RESULTS_DIR = join(BENCH_DIR, 'results');

export function row(
  metric: string,
  unit: string,
  baseline: number | null,
  ours: number | null,
  extra: { target?: string; met?: boolean; note?: string; headline?: boolean } = {},
): BenchRow {
  const ratio =
    baseline !== null && ours !== null && baseline !== 0 && Number.isFinite(baseline)
      ? ours / baseline
      : null;
  return { metric, unit, baseline, ours, ratio, ...extra };
}

export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, resultFileName(result.name, result.stack));
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export function readResults(): BenchResult[] {
  let names: string[];
  try {
    names = readdirSync(RESULTS_DIR).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names
    .map((n) => {
      const result = JSON.parse(readFileSync(join(RESULTS_DIR, n), 'utf8')) as BenchResult;
      const parsed = parseResultFileName(n);
      if (parsed?.name !== result.name || parsed.stack !== result.stack) {
        throw new Error(
          `${join(RESULTS_DIR, n)} holds ${result.name} on stack ${result.stack ?? '(this machine)'}; its file would be ${resultFileName(result.name, result.stack)}`,
        );
      }
      return result;
    })
    .sort(
      (a, b) =>
        a.figure - b.figure ||
        a.name.localeCompare(b.name) ||
        (a.stack ?? '').localeCompare(b.stack ?? ''),
    );
}
