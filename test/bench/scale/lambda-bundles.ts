import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lib/paths';

const execFileAsync = promisify(execFile);

/**
 * Each Lambda of serverless.yml bundled with the same esbuild settings serverless-esbuild
 * uses there (custom.esbuild), in a temp dir, then imported by a cold `node` process:
 * the module init a cold Lambda start pays before the first invocation.
 */
export interface LambdaBundleCost {
  fn: string;
  bytes: number;
  gzipBytes: number;
  initMs: number;
  /** Whole cold process (node start + import) minus an empty node start. */
  coldProcessMs: number;
}

interface EsbuildCustom {
  minify?: boolean;
  sourcemap?: boolean | 'external' | 'inline' | 'linked' | 'both';
  target?: string;
  platform?: 'node';
  format?: 'esm' | 'cjs';
  outputFileExtension?: string;
  mainFields?: string[];
  exclude?: string[];
  banner?: { js?: string };
}

const LAMBDA_ENV = {
  TABLE_NAME: 'bench',
  FLEET_ASG_NAME: 'bench',
  SSM_DOCUMENT_NAME: 'bench',
  RECONCILE_FUNCTION_NAME: 'bench',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  LOG_LEVEL: 'ERROR',
};

export async function measureLambdaBundles(
  runs: number,
): Promise<{ costs: LambdaBundleCost[]; missing: string[] }> {
  const doc = parse(readFileSync(join(REPO_ROOT, 'serverless.yml'), 'utf8'), {
    logLevel: 'silent',
  }) as {
    custom?: { esbuild?: EsbuildCustom };
    provider?: { environment?: Record<string, unknown> };
    functions: Record<string, { handler: string }>;
  };
  const settings = doc.custom?.esbuild ?? {};
  // The functions' NODE_OPTIONS (e.g. --enable-source-maps) cost init time too: pass them.
  const nodeOptions = String(doc.provider?.environment?.NODE_OPTIONS ?? '')
    .split(' ')
    .filter((o) => o !== '');
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-lambda-'));
  try {
    const out: LambdaBundleCost[] = [];
    const missing: string[] = [];
    const empty = await coldStarts(['-e', ''], runs);
    for (const [fn, { handler }] of Object.entries(doc.functions)) {
      const entry = join(REPO_ROOT, `${handler.slice(0, handler.lastIndexOf('.'))}.ts`);
      if (!existsSync(entry)) {
        missing.push(`${fn} (${handler})`);
        continue;
      }
      const outfile = join(dir, `${fn}${settings.outputFileExtension ?? '.js'}`);
      await build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        minify: settings.minify ?? false,
        sourcemap: settings.sourcemap ?? false,
        target: settings.target ?? 'node22',
        platform: 'node',
        format: settings.format ?? 'esm',
        mainFields: settings.mainFields,
        external: settings.exclude ?? [],
        banner: settings.banner?.js ? { js: settings.banner.js } : undefined,
        logLevel: 'silent',
      });
      const gzip = await execFileAsync('sh', ['-c', `gzip -c "${outfile}" | wc -c`]);
      const script = `const t=performance.now();await import(${JSON.stringify(`file://${outfile}`)});process.stdout.write(String(performance.now()-t));`;
      const inits: number[] = [];
      const colds: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const { stdout } = await execFileAsync(
          process.execPath,
          [...nodeOptions, '--input-type=module', '-e', script],
          { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...LAMBDA_ENV } },
        );
        colds.push(performance.now() - t0);
        inits.push(Number(stdout));
      }
      out.push({
        fn,
        bytes: statSync(outfile).size,
        gzipBytes: Number(gzip.stdout.trim()),
        initMs: median(inits),
        coldProcessMs: median(colds) - median(empty),
      });
    }
    return { costs: out, missing };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function coldStarts(args: string[], runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await execFileAsync(process.execPath, args);
    times.push(performance.now() - t0);
  }
  return times;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
}
