import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BUNDLE_MAX_PARTS, BUNDLE_PART_BYTES } from '@aurora-haproxy/contract/bundle-item';
import { REGISTRY_MAX_CLUSTERS } from '@aurora-haproxy/contract/registry';
import type { Benchmark, BenchOutcome } from '../lib/benchmark';
import { REPO_ROOT } from '../lib/paths';
import { BENCH_DIR, type BenchRow, row } from '../lib/result';

const execFileAsync = promisify(execFile);

/**
 * Figure 9, the registry ceiling: the largest registry whose one bundle is rendered, stored
 * (DynamoDB Local, manifest + parts), fetched by the agent and applied in the real HAProxy
 * and PgBouncer. The admin API refuses the cluster past REGISTRY_MAX_CLUSTERS; this figure
 * is the evidence for that number. One process per size (scale/ceiling-worker.ts).
 */
const SIZES = [1_200, 2_500, REGISTRY_MAX_CLUSTERS];

export interface CeilingAt {
  clusters: number;
  readers: number;
  renderMs: number;
  jsonBytes: number;
  gzipBytes: number;
  namedGzipBytes: number;
  parts: number;
  namedParts: number;
  storeMs: number;
  fetchMs: number;
  haproxyStartMs?: number;
  pgbouncerReloadMs?: number;
  aliases?: number;
  /** HAProxy's file limit in the run (below the 262,144 of a host: `no strict-limits` added). */
  fdLimit?: number;
  /** Why the apply could not be measured (e.g. HAProxy refusing the host's file limit). */
  applyError?: string;
  peakRssKiB: number;
}

async function at(clusters: number): Promise<CeilingAt> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', join(BENCH_DIR, 'scale', 'ceiling-worker.ts'), String(clusters)],
    { cwd: REPO_ROOT, maxBuffer: 1 << 20, timeout: 900_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop() as string) as CeilingAt;
}

/** The figure's rows for one size (also used to record a run made outside run.ts). */
export function ceilingRows(r: CeilingAt): BenchRow[] {
  const clusters = r.clusters;
  const label = `${clusters} clusters x ${r.readers} readers`;
  const ceiling = clusters === REGISTRY_MAX_CLUSTERS;
  return [
    row(`${label}: bundle gzip, RDS host names`, 'KB', null, r.namedGzipBytes / 1000, {
      note: `${r.namedParts} parts of ${BUNDLE_PART_BYTES / 1000} KB (limit ${BUNDLE_MAX_PARTS}); IPv4 addresses: ${(r.gzipBytes / 1000).toFixed(0)} KB, ${r.parts} parts; JSON ${(r.jsonBytes / 1e6).toFixed(1)} MB`,
      ...(ceiling
        ? { target: `<= ${BUNDLE_MAX_PARTS} parts`, met: r.namedParts <= BUNDLE_MAX_PARTS }
        : {}),
    }),
    row(`${label}: store (BundleStore.put, parts then manifest)`, 'ms', null, r.storeMs),
    row(`${label}: agent fetch (GetItem per part, verify)`, 'ms', null, r.fetchMs, {
      headline: ceiling,
    }),
    row(
      `${label}: apply, HAProxy start to worker answering`,
      'ms',
      null,
      r.haproxyStartMs ?? null,
      {
        headline: ceiling,
        note: r.applyError
          ? `not applied: ${r.applyError}`
          : `${2 * clusters} listeners, ${clusters * (r.readers + 1)} servers${
              r.fdLimit !== undefined && r.fdLimit < 262_144
                ? `; HAProxy ran with this machine's ${r.fdLimit} descriptors and \`no strict-limits\` (a host's unit gives 262,144)`
                : ''
            }`,
      },
    ),
    row(
      `${label}: apply, PgBouncer RELOAD + SHOW DATABASES`,
      'ms',
      null,
      r.pgbouncerReloadMs ?? null,
      { note: r.applyError ? 'not applied (see HAProxy)' : `${r.aliases} aliases listed` },
    ),
    row(`${label}: render (no previous)`, 'ms', null, r.renderMs, {
      note: `peak RSS ${(r.peakRssKiB / 1024).toFixed(0)} MiB in the worker process`,
    }),
  ];
}

async function run(): Promise<BenchOutcome> {
  const rows: BenchRow[] = [];
  for (const clusters of SIZES) rows.push(...ceilingRows(await at(clusters)));
  return { status: 'measured', rows, method: CEILING_METHOD };
}

export const CEILING_METHOD = [
  `Per size, one Node process (test/bench/scale/ceiling-worker.ts): clusters of 1 writer + 15 readers (Aurora's maximum), random 24-character cluster and instance ids (random ids compress worst), one alias each; rendered by renderBundle; stored in DynamoDB Local by the orchestrator's BundleStore (gzip cut in parts of ${BUNDLE_PART_BYTES} bytes: manifest BUNDLE#<sha>/BUNDLE + BUNDLE#<sha>/PART#nnnn); fetched by the agent's DynamoDbBundleSource; applied by starting the real HAProxy 2.6 (master-worker) on the config until its worker answers, and RELOADing a real PgBouncer 1.18 with the include until SHOW DATABASES lists every alias.`,
  'Addresses: the stored size is given for RDS-style host names (what AWS returns) and for IPv4 addresses; store, fetch and apply use the IPv4 variant, because HAProxy would resolve 80 000 random names at start on a machine with no DNS for them. Ceiling: REGISTRY_MAX_CLUSTERS (packages/contract/src/registry.ts); the admin API answers REGISTRY_FULL past it.',
  'No baseline: the seed stored no bundle (each host rebuilt its own files).',
];

export const registryCeiling: Benchmark = {
  name: 'registry-ceiling',
  figure: 9,
  title: 'Registry ceiling (bundle storage and apply)',
  run,
};
