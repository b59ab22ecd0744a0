import { type BundleCluster, BundleClusterSchema } from '@aurora-haproxy/contract/bundle';
import { canonicalJsonOnce, jsonEscaped } from '@aurora-haproxy/contract/canonical-json';
import { deepFreeze } from '@aurora-haproxy/contract/parsed-marks';
import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import { renderTemplate } from './templates';
import { clusterView } from './view-model';

/**
 * A cluster of the bundle with its two listen sections (templates/haproxy-listen.cfg.hbs):
 * with its servers (the config) and with every slot spare (the structure, see
 * structureSha256). The cluster object is validated and deep-frozen: bundles share it.
 */
export interface RenderedCluster {
  cluster: BundleCluster;
  listen: string;
  /** `listen` JSON-escaped, for the bundle's sha256 (bundleSha256's haproxyEscaped). */
  listenEscaped: string;
  structure: string;
}

/**
 * Rendered clusters with the JSON of the candidate bundle cluster they came from. A reconcile
 * usually changes a few clusters of hundreds: each unchanged one costs a JSON.stringify and a
 * lookup instead of a schema parse, two template runs and its canonical JSON (the render took
 * 232 ms at 500 clusters × 15 readers without it, docs/BENCHMARKS.md figure 7).
 * Exact: the candidate is plain data built by renderCluster from validated values, so equal
 * JSON means an equal candidate, and parsing and rendering are pure functions of it; only
 * candidates that passed the schema are kept.
 * Bounded: two generations, the clusters of this render and of the one before it; a cluster
 * used by neither is dropped (memory ≈ two bundles' clusters at most).
 */
interface Entry {
  json: string;
  rendered: RenderedCluster;
  /** The inputs a render last built this entry's candidate from (rememberInputs). */
  inputs?: ClusterInputs;
}

/**
 * Everything renderCluster (render-bundle.ts) builds a cluster's candidate from: the registry
 * cluster, its topology (validated; undefined: none usable) and the previous bundle's cluster.
 */
export interface ClusterInputs {
  cluster: RegistryCluster;
  topology: ClusterTopology | undefined;
  previous: BundleCluster | undefined;
}

/** By cluster id; an entry serves only a candidate of the same JSON (compared, not hashed). */
let current = new Map<string, Entry>();
let older = new Map<string, Entry>();

/** Called once per render: what the render before the last one used and this one does not goes. */
export function nextGeneration(): void {
  older = current;
  current = new Map();
}

/** Empties the cache (tests compare a cold render with a warm one). */
export function forgetRenderedClusters(): void {
  current = new Map();
  older = new Map();
}

/**
 * @param validate the schema check that throws a RenderError naming the problem
 */
export function renderedCluster(
  candidate: BundleCluster,
  validate: (schema: typeof BundleClusterSchema, value: unknown) => BundleCluster,
): RenderedCluster {
  const json = JSON.stringify(candidate);
  const id = candidate.clusterId;
  const known = [current.get(id), older.get(id)].find((entry) => entry?.json === json);
  if (known !== undefined) {
    current.set(id, known);
    return known.rendered;
  }
  const cluster = deepFreeze(validate(BundleClusterSchema, candidate));
  const listen = renderTemplate('haproxyListen', clusterView(cluster, true));
  const rendered: RenderedCluster = {
    cluster,
    listen,
    listenEscaped: jsonEscaped(listen),
    structure: renderTemplate('haproxyListen', clusterView(cluster, false)),
  };
  canonicalJsonOnce(cluster);
  current.set(id, { json, rendered });
  return rendered;
}

/**
 * The rendered cluster an earlier render built from the same inputs, kept for this render
 * (as renderedCluster keeps one); undefined when neither generation has one. Building the
 * candidate (member selection, slots, weights, sorting) and its JSON was most of a tick once
 * unchanged clusters were no longer rendered again (docs/BENCHMARKS.md figure 7); comparing
 * the inputs is a walk over plain data. Exact as long as `same` only says true for inputs
 * renderCluster cannot tell apart: it is a pure function of them.
 */
export function renderedFromSameInputs(
  id: string,
  inputs: ClusterInputs,
  same: (a: ClusterInputs, b: ClusterInputs) => boolean,
): RenderedCluster | undefined {
  for (const entry of [current.get(id), older.get(id)]) {
    if (entry?.inputs !== undefined && same(entry.inputs, inputs)) {
      current.set(id, entry);
      return entry.rendered;
    }
  }
  return undefined;
}

/** After renderedCluster(id's candidate) returned: `inputs` built that candidate. */
export function rememberInputs(id: string, inputs: ClusterInputs): void {
  const entry = current.get(id);
  if (entry !== undefined) entry.inputs = inputs;
}
