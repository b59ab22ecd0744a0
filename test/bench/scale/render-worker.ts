import { decideApplyPath } from '../../../agent/apply/decide';
import { planRuntimeCommands } from '../../../agent/apply/runtime-plan';
import { renderBundle } from '../../../functions/render/render-bundle';
import { liveRows, registry, topologies } from './fixtures';

/**
 * One size of the orchestrator scale figure, in its own Node process so its peak RSS is its
 * own: render the fleet once (the previous bundle), then `repeats` times render the next tick
 * (one reader re-addressed, with previous for stable slots) and diff it (the reconcile's sha
 * comparison, the agent's decideApplyPath and planRuntimeCommands). Prints one JSON line.
 * Usage: render-worker.ts <clusters> <readers> <repeats>
 */
const [clusters, readers, repeats] = process.argv.slice(2).map(Number) as [number, number, number];
const rssBeforeKiB = process.memoryUsage().rss / 1024;
const reg = registry(clusters);
const now = new Date('2026-01-01T00:00:00Z');
const first = renderBundle({ clusters: reg, topologies: topologies(clusters, readers) }, now);
const renderMs: number[] = [];
const diffMs: number[] = [];
let commands = 0;
let path = '';
for (let r = 0; r < repeats; r++) {
  const tops = topologies(clusters, readers, 100 + r);
  const t0 = performance.now();
  const next = renderBundle({ clusters: reg, topologies: tops, previous: first }, now);
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
      ? planRuntimeCommands({ previous: first, next, live: liveRows(first), resolved: new Map() })
      : [];
  const t2 = performance.now();
  if (!changed) throw new Error('the tick changed nothing');
  renderMs.push(t1 - t0);
  diffMs.push(t2 - t1);
  // planRuntimeCommands returns the command list, or { commands, retire } in newer versions.
  commands = Array.isArray(plan) ? plan.length : (plan as { commands: unknown[] }).commands.length;
  path = decision.path;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
process.stdout.write(
  `${JSON.stringify({
    clusters,
    readers,
    renderMs: median(renderMs),
    diffMs: median(diffMs),
    path,
    commands,
    haproxyBytes: first.files.haproxy.length,
    bundleJsonBytes: JSON.stringify(first).length,
    rssBeforeKiB,
    peakRssKiB: process.resourceUsage().maxRSS,
  })}\n`,
);
