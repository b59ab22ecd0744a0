import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { decideApplyPath } from '../../../agent/apply/decide';
import { planRuntimeCommands } from '../../../agent/apply/runtime-plan';
import { renderBundle } from '../../../functions/render/render-bundle';
import { liveRows, registry, topologies } from './fixtures';

/**
 * One size of the orchestrator scale figure, in its own Node process so its peak RSS is its
 * own. The same file runs against this tree and against the previous implementation's tree
 * (orchestrator-scale.ts extracts it from git), so it finds the optimisations by import and
 * uses them only where they exist.
 *
 * 1. cold: the first render of the fleet in a fresh process (no previous bundle, nothing
 *    cached) - a cold Lambda container's first reconcile;
 * 2. `repeats` ticks, after 5 untimed ones: render the next tick (one reader of one cluster re-addressed, the first
 *    bundle as previous) and diff it (the reconcile's sha comparison, the agent's
 *    decideApplyPath and planRuntimeCommands against the live `show servers state` rows,
 *    which are built before the clock starts);
 * 3. the same ticks with the render's cache emptied before each (where there is one): what a
 *    tick costs when every cluster changed, or in a container that has not rendered yet.
 * Inputs are what the readers hand the render: registry clusters and topologies parsed by
 * their contract schemas (and marked as parsed, where the tree has marks).
 * Prints one JSON line. Usage: render-worker.ts <clusters> <readers> <repeats>
 */
const WARMUP_TICKS = 5;
const [clusters, readers, repeats] = process.argv.slice(2).map(Number) as [number, number, number];

type Schema = { parse: (v: unknown) => unknown };
/** The tree's own contracts: the contract package, or functions/contracts/ in older trees. */
const contract = <T>(name: string): Promise<T | undefined> => {
  const old = new URL(`../../../functions/contracts/${name}.ts`, import.meta.url);
  return optional<T>(existsSync(old) ? old.href : `@aurora-haproxy/contract/${name}`);
};
const { RegistryClusterSchema } = (await contract<{ RegistryClusterSchema: Schema }>(
  'registry',
)) as { RegistryClusterSchema: Schema };
const { ClusterTopologySchema } = (await contract<{ ClusterTopologySchema: Schema }>(
  'topology',
)) as { ClusterTopologySchema: Schema };
type Mark = <T>(schema: unknown, value: T) => T;
const marks = await contract<{ markParsed: Mark }>('parsed-marks');
const sections = await optional<{ forgetRenderedClusters: () => void }>(
  '../../../functions/render/sections',
);
const asRead = <T>(schema: Schema, value: T): T => {
  const parsed = schema.parse(value) as T;
  return marks ? marks.markParsed(schema, parsed) : parsed;
};
const readRegistry = () => registry(clusters).map((c) => asRead(RegistryClusterSchema, c));
const readTopologies = (variant: number) =>
  new Map(
    [...topologies(clusters, readers, variant)].map(([id, t]) => [
      id,
      asRead(ClusterTopologySchema, t),
    ]),
  );

const rssBeforeKiB = process.memoryUsage().rss / 1024;
const load = loadavg()[0] as number;
const now = new Date('2026-01-01T00:00:00Z');
const reg = readRegistry();
const firstTops = readTopologies(0);
(globalThis as { gc?: () => void }).gc?.();
const c0 = performance.now();
const first = renderBundle({ clusters: reg, topologies: firstTops }, now);
const coldMs = performance.now() - c0;
const live = liveRows(first);

interface Tick {
  renderMs: number;
  diffMs: number;
  /** CPU time (user + system, every thread of the process) of render + diff. */
  cpuMs: number;
  path: string;
  n: number;
}

function tick(variant: number): Tick {
  const tops = readTopologies(variant);
  // The fixture's garbage is collected before the clock starts (run with --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const next: Bundle = renderBundle({ clusters: reg, topologies: tops, previous: first }, now);
  const t1 = performance.now();
  const changed = next.sha256 !== first.sha256;
  const decision = decideApplyPath({
    applied: first,
    next,
    interrupted: false,
    liveFilesMatchApplied: true,
  });
  const plan =
    decision.path === 'runtime'
      ? planRuntimeCommands({ previous: first, next, live, resolved: new Map() })
      : [];
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  if (!changed) throw new Error('the tick changed nothing');
  const n = Array.isArray(plan) ? plan.length : (plan as { commands: unknown[] }).commands.length;
  return {
    renderMs: t1 - t0,
    diffMs: t2 - t1,
    cpuMs: (cpu.user + cpu.system) / 1000,
    path: decision.path,
    n,
  };
}

// A reconcile container runs a tick a minute for hours: the timed ticks follow a few untimed
// ones, so they measure its steady state, not the JIT compiling the render's code.
for (let r = 0; r < WARMUP_TICKS; r++) tick(50 + r);
const warm = Array.from({ length: repeats }, (_, r) => tick(100 + r));
const uncached = sections
  ? Array.from({ length: repeats }, (_, r) => {
      sections.forgetRenderedClusters();
      return tick(200 + r);
    })
  : warm;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
process.stdout.write(
  `${JSON.stringify({
    clusters,
    readers,
    cached: sections !== undefined,
    coldMs,
    renderMs: median(warm.map((t) => t.renderMs)),
    diffMs: median(warm.map((t) => t.diffMs)),
    totalMs: median(warm.map((t) => t.renderMs + t.diffMs)),
    cpuMs: median(warm.map((t) => t.cpuMs)),
    uncachedTotalMs: median(uncached.map((t) => t.renderMs + t.diffMs)),
    uncachedCpuMs: median(uncached.map((t) => t.cpuMs)),
    path: warm[0]?.path,
    commands: warm[0]?.n,
    haproxyBytes: first.files.haproxy.length,
    bundleJsonBytes: JSON.stringify(first).length,
    rssBeforeKiB,
    peakRssKiB: process.resourceUsage().maxRSS,
    loadAvg1: load,
  })}\n`,
);

async function optional<T>(path: string): Promise<T | undefined> {
  try {
    return (await import(path)) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}
