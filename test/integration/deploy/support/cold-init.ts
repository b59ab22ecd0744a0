import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ColdInit {
  /** Time of `await import(handler module)` in a fresh node process (module init). */
  initMs: number;
  handlerType: string;
}

/**
 * Import a bundled handler in a fresh node process, the way the Lambda runtime loads it, and
 * report how long module initialisation took and what `handler` is. The module sits in a
 * directory with no node_modules above it, so it must be self-contained.
 */
export async function coldInit(modulePath: string, env: Record<string, string>): Promise<ColdInit> {
  const script = [
    'const t0 = performance.now();',
    `const m = await import(${JSON.stringify(modulePath)});`,
    'const initMs = performance.now() - t0;',
    'console.log(JSON.stringify({ initMs, handlerType: typeof m.handler }));',
  ].join('\n');
  const { stdout } = await run(
    process.execPath,
    ['--no-warnings', '--input-type=module', '-e', script],
    {
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 30_000,
    },
  );
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as ColdInit;
}

/** Median of several cold inits (each in its own process). */
export async function medianColdInit(
  modulePath: string,
  env: Record<string, string>,
  runs: number,
): Promise<ColdInit & { samplesMs: number[] }> {
  const samples: ColdInit[] = [];
  for (let i = 0; i < runs; i++) samples.push(await coldInit(modulePath, env));
  const sorted = samples.map((s) => s.initMs).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  return { initMs: median, handlerType: samples[0]?.handlerType ?? 'none', samplesMs: sorted };
}
