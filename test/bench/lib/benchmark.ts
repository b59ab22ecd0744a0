import type { BenchResult } from './result';

/** What a benchmark returns; run.ts adds name, figure, title, machine, date and command. */
export type BenchOutcome = Pick<BenchResult, 'status' | 'rows' | 'method'> & {
  reason?: string;
};

export interface Benchmark {
  /** The name given to `npm run bench -- <name>`; also the results file name. */
  name: string;
  figure: number;
  title: string;
  /**
   * Measure baseline and ours. Must end every process it started (by PID) before it
   * returns or throws; run.ts also calls stopAll() after each benchmark as a last resort.
   */
  run(): Promise<BenchOutcome>;
}
