import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lib/paths';

const execFileAsync = promisify(execFile);

/**
 * Each Lambda of serverless.yml bundled with the esbuild settings serverless-esbuild uses
 * there (custom.esbuild), in a temp dir, then started by cold `node` processes: the module
 * init a cold Lambda start pays before the first invocation, and that first invocation.
 *
 * Two trees side by side, interleaved run by run: this one, and a baseline tree extracted
 * from git (its own serverless.yml settings and sources), so both are measured at the same
 * load.
 */
export interface LambdaBundleCost {
  fn: string;
  /** Every JavaScript file the function's build wrote (entry and chunks; no source maps). */
  bytes: number;
  /** The entry and the chunks it imports statically: what init reads and compiles. */
  initBytes: number;
  gzipBytes: number;
  initMs: number;
  /**
   * The first invocation in the same process, right after init: the event below against a
   * local endpoint for every AWS service that answers DynamoDB with "nothing stored" and
   * everything else with an error (so SDK clients are created, credentials resolved, requests
   * signed and sent, the render's templates compiled or bound where the path renders).
   */
  firstCallMs: number;
  /** 'ok' or the error the first invocation ended with (the same for both trees). */
  firstCallOutcome: string;
  /** Whole cold process (node start + import) minus an empty node start. */
  coldProcessMs: number;
}

interface EsbuildCustom {
  minify?: boolean;
  sourcemap?: boolean | 'external' | 'inline' | 'linked' | 'both';
  target?: string;
  platform?: 'node';
  format?: 'esm' | 'cjs';
  splitting?: boolean;
  chunkNames?: string;
  outputFileExtension?: string;
  mainFields?: string[];
  exclude?: string[];
  banner?: { js?: string };
}

const LAMBDA_ENV = {
  TABLE_NAME: 'bench',
  HOST_REPORTS_TABLE: 'bench-reports',
  FLEET_ASG_NAME: 'bench',
  SSM_DOCUMENT_NAME: 'bench',
  RECONCILE_FUNCTION_NAME: 'bench',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  LOG_LEVEL: 'ERROR',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

/** The first event of each function: the schedule's for reconcile, a list for admin. */
const FIRST_EVENTS: Record<string, unknown> = {
  reconcile: {
    version: '0',
    id: 'bench',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: '2026-01-01T00:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: {},
  },
  admin: { action: 'list' },
};

export interface BundleTree {
  label: string;
  root: string;
}

export async function measureLambdaBundles(
  runs: number,
  trees: BundleTree[] = [{ label: 'ours', root: REPO_ROOT }],
): Promise<{ costs: Map<string, LambdaBundleCost[]>; missing: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-lambda-'));
  const endpoint = await startEndpoint();
  try {
    const missing: string[] = [];
    const built: { tree: BundleTree; fn: string; entry: string; sizes: Sizes }[] = [];
    let nodeOptions: string[] = [];
    for (const tree of trees) {
      const config = serverlessConfig(tree.root);
      if (tree.root === REPO_ROOT) nodeOptions = config.nodeOptions;
      for (const [fn, { handler }] of Object.entries(config.functions)) {
        const source = join(tree.root, `${handler.slice(0, handler.lastIndexOf('.'))}.ts`);
        if (!existsSync(source)) {
          missing.push(`${tree.label} ${fn} (${handler})`);
          continue;
        }
        // The package's layout: functions/handlers/<fn>.mjs, templates/ at its root (read at run
        // time by trees before precompiled templates, such as the baseline; ours reads none).
        const packageDir = join(dir, tree.label, fn);
        cpSync(join(tree.root, 'templates'), join(packageDir, 'templates'), { recursive: true });
        const outdir = join(packageDir, dirname(handler));
        const entry = await buildFunction(tree.root, source, outdir, config.settings);
        built.push({ tree, fn, entry: entry.path, sizes: entry.sizes });
      }
    }
    const empty = await coldStarts(['-e', ''], runs);
    const samples = new Map(built.map((b) => [b, [] as ChildResult[]]));
    // Interleaved: run i of every tree's function before run i + 1 of any.
    for (let i = 0; i < runs; i++) {
      for (const b of built) {
        (samples.get(b) as ChildResult[]).push(
          await coldImport(b.entry, b.fn, nodeOptions, endpoint.url),
        );
      }
    }
    const costs = new Map<string, LambdaBundleCost[]>();
    for (const b of built) {
      const s = samples.get(b) as ChildResult[];
      const list = costs.get(b.tree.label) ?? [];
      list.push({
        fn: b.fn,
        ...b.sizes,
        initMs: median(s.map((x) => x.init)),
        firstCallMs: median(s.map((x) => x.first)),
        firstCallOutcome: [...new Set(s.map((x) => x.outcome))].join(' / '),
        coldProcessMs: median(s.map((x) => x.wall)) - median(empty),
      });
      costs.set(b.tree.label, list);
    }
    return { costs, missing };
  } finally {
    endpoint.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A tree from git (functions/, packages/, templates/, serverless.yml at `commit`), with this
 * tree's node_modules linked; its @aurora-haproxy/contract is its own (esbuild alias).
 */
export async function gitTree(commit: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-lambda-tree-'));
  const archive = join(dir, 'tree.tar');
  await execFileAsync(
    'git',
    ['archive', '-o', archive, commit, 'functions', 'packages', 'templates', 'serverless.yml'],
    { cwd: REPO_ROOT },
  );
  await execFileAsync('tar', ['-xf', archive, '-C', dir]);
  rmSync(archive);
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function serverlessConfig(root: string) {
  const doc = parse(readFileSync(join(root, 'serverless.yml'), 'utf8'), {
    logLevel: 'silent',
  }) as {
    custom?: { esbuild?: EsbuildCustom };
    provider?: { environment?: Record<string, unknown> };
    functions: Record<string, { handler: string }>;
  };
  return {
    settings: doc.custom?.esbuild ?? {},
    functions: doc.functions,
    // The functions' NODE_OPTIONS (e.g. --enable-source-maps) cost init time too: pass them.
    nodeOptions: String(doc.provider?.environment?.NODE_OPTIONS ?? '')
      .split(' ')
      .filter((o) => o !== ''),
  };
}

interface Sizes {
  bytes: number;
  initBytes: number;
  gzipBytes: number;
}

async function buildFunction(
  root: string,
  source: string,
  outdir: string,
  settings: EsbuildCustom,
): Promise<{ path: string; sizes: Sizes }> {
  const result = await build({
    entryPoints: [source],
    outdir,
    bundle: true,
    minify: settings.minify ?? false,
    sourcemap: settings.sourcemap ?? false,
    target: settings.target ?? 'node22',
    platform: 'node',
    format: settings.format ?? 'esm',
    splitting: settings.splitting ?? false,
    ...(settings.chunkNames ? { chunkNames: settings.chunkNames } : {}),
    outExtension: { '.js': settings.outputFileExtension ?? '.js' },
    mainFields: settings.mainFields,
    external: settings.exclude ?? [],
    banner: settings.banner?.js ? { js: settings.banner.js } : undefined,
    // The tree's own contract package, not the one node_modules links to.
    alias: { '@aurora-haproxy/contract': join(root, 'packages', 'contract', 'src') },
    absWorkingDir: root,
    metafile: true,
    logLevel: 'silent',
  });
  const outputs = Object.entries(result.metafile.outputs)
    .filter(([path]) => !path.endsWith('.map'))
    .map(([path, output]) => [resolve(root, path), output] as const);
  const entry = outputs.find(
    ([, o]) => o.entryPoint !== undefined && resolve(root, o.entryPoint) === source,
  );
  if (!entry) throw new Error(`no output for ${source}`);
  const init = staticClosure(root, entry[0], result.metafile);
  const files = outputs.map(([path]) => path);
  const gzip = await execFileAsync('sh', [
    '-c',
    `cat ${files.map((f) => `"${f}"`).join(' ')} | gzip -c | wc -c`,
  ]);
  return {
    path: entry[0],
    sizes: {
      bytes: files.reduce((sum, f) => sum + statSync(f).size, 0),
      initBytes: [...init].reduce((sum, f) => sum + statSync(f).size, 0),
      gzipBytes: Number(gzip.stdout.trim()),
    },
  };
}

/** The output and the outputs it imports statically, transitively (absolute paths). */
function staticClosure(root: string, entry: string, metafile: Metafile): Set<string> {
  const byPath = new Map(
    Object.entries(metafile.outputs).map(([path, output]) => [resolve(root, path), output]),
  );
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const i of byPath.get(path)?.imports ?? []) {
      if (i.kind === 'import-statement' && !i.external) visit(resolve(root, i.path));
    }
  };
  visit(entry);
  return seen;
}

interface ChildResult {
  init: number;
  first: number;
  outcome: string;
  wall: number;
}

async function coldImport(
  file: string,
  fn: string,
  nodeOptions: string[],
  endpoint: string,
): Promise<ChildResult> {
  const context = `{awsRequestId:'bench',functionName:'bench',functionVersion:'1',invokedFunctionArn:'arn:aws:lambda:eu-west-1:123456789012:function:bench',memoryLimitInMB:'512',getRemainingTimeInMillis:()=>30000}`;
  const script = [
    'const t=performance.now();',
    `const m=await import(${JSON.stringify(`file://${file}`)});`,
    'const init=performance.now()-t;',
    'const t1=performance.now();let outcome="ok";',
    `try{await m.handler(${JSON.stringify(FIRST_EVENTS[fn] ?? {})},${context});}catch(e){outcome=String(e?.name??'')+': '+String(e?.message??e).slice(0,80);}`,
    'const first=performance.now()-t1;',
    'process.stdout.write("\\n"+JSON.stringify({init,first,outcome}));',
  ].join('');
  const t0 = performance.now();
  const { stdout } = await execFileAsync(
    process.execPath,
    [...nodeOptions, '--input-type=module', '-e', script],
    {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...LAMBDA_ENV, AWS_ENDPOINT_URL: endpoint },
      maxBuffer: 1 << 22,
    },
  );
  const wall = performance.now() - t0;
  const last = stdout.trim().split('\n').pop() as string;
  return { ...(JSON.parse(last) as Omit<ChildResult, 'wall'>), wall };
}

/**
 * Every AWS service's endpoint for the first invocation: DynamoDB (JSON 1.0, X-Amz-Target
 * DynamoDB_20120810.*) answers as an empty table; anything else gets a 400 error.
 */
async function startEndpoint(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('DynamoDB_20120810.') ? target.slice(18) : undefined;
      if (operation !== undefined) {
        const body =
          operation === 'Query' || operation === 'Scan'
            ? { Items: [], Count: 0, ScannedCount: 0 }
            : operation === 'BatchWriteItem'
              ? { UnprocessedItems: {} }
              : operation === 'BatchGetItem'
                ? { Responses: {}, UnprocessedKeys: {} }
                : {};
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(body));
        return;
      }
      res.writeHead(400, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-errortype': 'ValidationException',
      });
      res.end(JSON.stringify({ __type: 'ValidationException', message: 'bench endpoint' }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
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
