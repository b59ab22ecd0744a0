import {
  BUNDLE_SCHEMA_VERSION,
  type Bundle,
  type BundleCluster,
  type BundleContent,
  BundleContentSchema,
  type BundleServer,
  isVerified,
  markVerified,
  parseBundle,
  sealBundle,
  type WriterListener,
} from '@aurora-haproxy/contract/bundle';
import { jsonEscaped } from '@aurora-haproxy/contract/canonical-json';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { backendName, WRITER_SLOT, writerBackendName } from '@aurora-haproxy/contract/names';
import { wasParsedBy } from '@aurora-haproxy/contract/parsed-marks';
import {
  bundleCheckMode,
  claimedAliases,
  claimedPorts,
  type RegistryCluster,
  RegistryClusterSchema,
} from '@aurora-haproxy/contract/registry';
import { type ClusterTopology, ClusterTopologySchema } from '@aurora-haproxy/contract/topology';
import type { z } from 'zod';
import { RenderError, SlotCapacityError, showValue } from './errors';
import { pgbouncerDatabasesFile } from './pgbouncer-file';
import { requirementsOf } from './requirements';
import { sameData } from './same-data';
import {
  type ClusterInputs,
  nextGeneration,
  type RenderedCluster,
  rememberInputs,
  renderedCluster,
  renderedFromSameInputs,
} from './sections';
import { compareText, isServableStatus, selectMembers } from './server-selection';
import { assignReaderSlots, readerSlotCapacity } from './slots';
import { structureSha256 } from './structure-sha';
import { renderTemplate } from './templates';
import { haproxyView } from './view-model';
import { serverWeight } from './weights';

export interface RenderInput {
  clusters: readonly RegistryCluster[];
  topologies: ReadonlyMap<string, ClusterTopology>;
  /** The bundle currently desired: readers that stay keep their slots, capacity is kept. */
  previous?: Bundle;
  /**
   * Told about each cluster whose topology could not be rendered (it kept the previous
   * bundle's servers instead, flagged stale). Without it those clusters are still held back.
   */
  onHeldBack?: (clusterId: string, problem: string) => void;
}

/** The bundle's fields other than its clusters, checked once per render. */
const BundleRestSchema = BundleContentSchema.omit({ clusters: true });

/**
 * Renders the bundle for the registered clusters and their topologies. Deterministic: the
 * same clusters, topologies and previous bundle give byte-identical files and the same
 * sha256, whatever the order of the inputs; `now` only sets createdAt (not hashed).
 *
 * Every input value is validated against the contracts again here (defence in depth) and
 * the bundle content before the templates see it; a bad value throws a RenderError naming
 * it, and nothing is rendered.
 *
 * A registered cluster with no topology in the map keeps the previous bundle's servers
 * (minus excluded instances, and minus the writer when fallbackToWriter is off), flagged
 * stale: a missing topology is never an empty cluster. So does a cluster whose topology is
 * stale (an RDS fault or not-found: the last known one, from the topology cache) when the
 * previous bundle has it: a fault never removes a server, whatever the cache holds.
 *
 * What RDS says about one cluster affects that cluster only: a topology the renderer
 * rejects (invalid value, an instance listed twice, more readers than slots) holds that
 * cluster back on the previous bundle's servers, flagged stale, reported through
 * `onHeldBack`; the other clusters render normally. Registry values and the previous bundle
 * are not RDS answers: a bad one still throws for the whole bundle (they are validated when
 * written, so that is a bug, not weather).
 *
 * Cost (docs/BENCHMARKS.md figure 7): a registry cluster or topology that its reader already
 * parsed (contracts/parsed-marks.ts) is not parsed again, and a cluster whose bundle entry is
 * the same as in the last two renders reuses its validated entry and listen sections
 * (sections.ts), so a tick that moves one reader re-renders one cluster. The files are the
 * global sections followed by each cluster's listen section, byte for byte what one template
 * over every cluster gave (the golden tests hold them).
 */
export function renderBundle(input: RenderInput, now: Date): Bundle {
  const clusters = input.clusters
    .map((cluster) =>
      validatedOnce(RegistryClusterSchema, cluster, `cluster ${showValue(cluster?.clusterId)}`),
    )
    .sort((a, b) => compareText(a.clusterId, b.clusterId));
  assertUnique(clusters);
  const previous = validatedPrevious(input.previous);
  const previousByCluster = new Map(previous?.clusters.map((c) => [c.clusterId, c]));

  nextGeneration();
  const rendered = clusters.map((cluster) =>
    renderIsolated(cluster, input, previousByCluster.get(cluster.clusterId)),
  );
  const bundleClusters = rendered.map((r) => r.cluster);
  const globalSections = renderTemplate('haproxy', haproxyView());
  // Hashed and concatenated piece by piece: a tick changes a few clusters of hundreds, and
  // joining, escaping and hashing megabytes of unchanged sections was most of its cost.
  // `+=` makes a rope; it is flattened only if the bundle is stored (docs/BENCHMARKS.md fig. 7).
  let haproxy = globalSections;
  for (const r of rendered) haproxy += r.listen;
  const content: BundleContent = {
    schema: BUNDLE_SCHEMA_VERSION,
    structureSha256: structureSha256([globalSections, ...rendered.map((r) => r.structure)]),
    files: {
      haproxy,
      pgbouncerDatabases: pgbouncerDatabasesFile(bundleClusters),
    },
    clusters: bundleClusters,
    ...requirementsOf(bundleClusters),
  };
  // Each cluster was validated against BundleClusterSchema (sections.ts); check the rest once.
  const { clusters: _validatedAbove, ...rest } = content;
  validated(BundleRestSchema, rest, 'bundle');
  const haproxyEscaped = [jsonEscaped(globalSections), ...rendered.map((r) => r.listenEscaped)];
  return markVerified(sealBundle(content, now, haproxyEscaped));
}

/** One cluster; a RenderError caused by its topology holds it back on its previous servers. */
function renderIsolated(
  cluster: RegistryCluster,
  input: RenderInput,
  previous: BundleCluster | undefined,
): RenderedCluster {
  if (!input.topologies.has(cluster.clusterId)) return renderOnce(cluster, undefined, previous);
  try {
    return renderOnce(cluster, topologyOf(cluster, input.topologies), previous);
  } catch (error) {
    if (!(error instanceof RenderError)) throw error;
    input.onHeldBack?.(cluster.clusterId, error.message);
    return renderOnce(cluster, undefined, previous);
  }
}

/**
 * renderCluster, unless an earlier render built this cluster from the same inputs
 * (sections.ts renderedFromSameInputs): then that render's cluster. Only a render that
 * returned is remembered, so a topology that is held back is tried (and reported) every time.
 */
function renderOnce(
  cluster: RegistryCluster,
  topology: ClusterTopology | undefined,
  previous: BundleCluster | undefined,
): RenderedCluster {
  const inputs: ClusterInputs = { cluster, topology, previous };
  const known = renderedFromSameInputs(cluster.clusterId, inputs, sameInputs);
  if (known !== undefined) return known;
  const rendered = renderCluster(cluster, topology, previous);
  rememberInputs(cluster.clusterId, inputs);
  return rendered;
}

/**
 * Inputs renderCluster cannot tell apart: the same registry cluster and previous cluster (as
 * plain data), and no topology in both or topologies with the same members and staleness
 * (the only fields of a validated topology it reads: status, engine and observedAt are not).
 */
function sameInputs(a: ClusterInputs, b: ClusterInputs): boolean {
  const topologies =
    a.topology === undefined || b.topology === undefined
      ? a.topology === b.topology
      : a.topology.stale === b.topology.stale && sameData(a.topology.members, b.topology.members);
  return topologies && sameData(a.cluster, b.cluster) && sameData(a.previous, b.previous);
}

function renderCluster(
  cluster: RegistryCluster,
  topology: ClusterTopology | undefined,
  previous: BundleCluster | undefined,
): RenderedCluster {
  const subject = `cluster "${cluster.clusterId}"`;
  const { options } = cluster;
  // A stale topology is the cache's last known one: the previous bundle's servers are what
  // is served, so they are kept as they are (the cache may be older, emptied or corrupted).
  const fromTopology = topology && !(topology.stale && previous);
  const servers = fromTopology
    ? serversFromTopology(cluster, topology, previous)
    : serversFromPrevious(cluster, previous);
  const readerCount = servers.filter((s) => s.role === 'reader').length;
  const bundleCluster: BundleCluster = {
    clusterId: cluster.clusterId,
    port: cluster.port,
    backend: backendName(cluster.clusterId),
    readerSlots: capacityFor(readerCount, previous?.readerSlots, subject),
    options: {
      ...options,
      checkMode: bundleCheckMode(options.checkMode),
      excludeInstances: [...options.excludeInstances].sort(compareText),
    },
    databases: [...cluster.databases].sort((a, b) => compareText(a.alias, b.alias)),
    servers: servers.sort((a, b) => compareText(a.name, b.name)),
    stale: topology?.stale ?? true,
    writer: options.writer
      ? writerListener(cluster, fromTopology ? topology : undefined, previous?.writer)
      : undefined,
  };
  return renderedCluster(bundleCluster, (schema, value) => validated(schema, value, subject));
}

/**
 * The writer endpoint's listener: a member slot for every servable member, writer and
 * readers alike (excludeInstances is about reads: an excluded reader may still be promoted),
 * each keeping its slot while it stays; role is what RDS says (the daemon's tie-break). With
 * no usable topology, the previous listener's servers are kept, as for the readers.
 */
function writerListener(
  cluster: RegistryCluster,
  topology: ClusterTopology | undefined,
  previous: WriterListener | undefined,
): WriterListener {
  const subject = `writer endpoint of cluster "${cluster.clusterId}"`;
  const backend = writerBackendName(cluster.clusterId);
  if (!topology) {
    const servers = previous?.servers ?? [];
    return { backend, slots: capacityFor(servers.length, previous?.slots, subject), servers };
  }
  const members = topology.members
    .filter((m) => isServableStatus(m.status))
    .sort((a, b) => compareText(a.instanceId, b.instanceId));
  const slots = capacityFor(members.length, previous?.slots, subject);
  const previousSlots = new Map((previous?.servers ?? []).map((s) => [s.instanceId, s.name]));
  const names = assignReaderSlots(
    members.map((m) => m.instanceId),
    previousSlots,
    slots,
    'm',
  );
  const servers: BundleServer[] = members.map((member) => ({
    name: names.get(member.instanceId) as string,
    instanceId: member.instanceId,
    address: member.address,
    port: member.port,
    role: member.isWriter ? 'writer' : 'reader',
    weight: serverWeight(cluster.options.weights, member.instanceClass),
  }));
  return { backend, slots, servers: servers.sort((a, b) => compareText(a.name, b.name)) };
}

function serversFromTopology(
  cluster: RegistryCluster,
  topology: ClusterTopology,
  previous: BundleCluster | undefined,
): BundleServer[] {
  const subject = `cluster "${cluster.clusterId}"`;
  const { readers, writer } = selectMembers(topology.members, cluster.options);
  const capacity = capacityFor(readers.length, previous?.readerSlots, subject);
  const previousSlots = new Map(
    (previous?.servers ?? []).filter((s) => s.role === 'reader').map((s) => [s.instanceId, s.name]),
  );
  const slots = assignReaderSlots(
    readers.map((r) => r.instanceId),
    previousSlots,
    capacity,
  );
  const servers: BundleServer[] = readers.map((member) => ({
    name: slots.get(member.instanceId) as string,
    instanceId: member.instanceId,
    address: member.address,
    port: member.port,
    role: 'reader',
    weight: serverWeight(cluster.options.weights, member.instanceClass),
    // Only with azAffinity: other clusters' bundles stay byte-identical (and keep their sha).
    ...(cluster.options.azAffinity && member.az !== undefined ? { az: member.az } : {}),
  }));
  if (writer) {
    servers.push({
      name: WRITER_SLOT,
      instanceId: writer.instanceId,
      address: writer.address,
      port: writer.port,
      role: 'writer',
      weight: serverWeight(cluster.options.weights, writer.instanceClass),
    });
  }
  return servers;
}

function serversFromPrevious(
  cluster: RegistryCluster,
  previous: BundleCluster | undefined,
): BundleServer[] {
  const excluded = new Set(cluster.options.excludeInstances);
  return (previous?.servers ?? [])
    .filter(
      (s) =>
        !excluded.has(s.instanceId) && (s.role === 'reader' || cluster.options.fallbackToWriter),
    )
    .map(({ az, ...server }) =>
      cluster.options.azAffinity && az !== undefined && server.role === 'reader'
        ? { ...server, az }
        : server,
    );
}

function capacityFor(readers: number, previous: number | undefined, subject: string): number {
  try {
    return readerSlotCapacity(readers, previous);
  } catch (cause) {
    if (cause instanceof SlotCapacityError)
      throw new RenderError(cause.message, subject, { cause });
    throw cause;
  }
}

function topologyOf(
  cluster: RegistryCluster,
  topologies: ReadonlyMap<string, ClusterTopology>,
): ClusterTopology | undefined {
  const raw = topologies.get(cluster.clusterId);
  if (raw === undefined) return undefined;
  const subject = `topology of cluster "${cluster.clusterId}"`;
  const topology = validatedOnce(ClusterTopologySchema, raw, subject);
  if (topology.clusterId !== cluster.clusterId) {
    throw new RenderError(`is for cluster ${showValue(topology.clusterId)}`, subject);
  }
  const ids = topology.members.map((m) => m.instanceId);
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated !== undefined) {
    throw new RenderError(`lists instance ${showValue(repeated)} twice`, subject);
  }
  return topology;
}

function validatedPrevious(previous: Bundle | undefined): Bundle | undefined {
  if (previous === undefined || isVerified(previous)) return previous;
  try {
    return parseBundle(JSON.stringify(previous));
  } catch (cause) {
    throw new RenderError(errorMessage(cause), 'previous bundle', { cause });
  }
}

function assertUnique(clusters: readonly RegistryCluster[]): void {
  const seen = {
    clusterId: new Map<string, string>(),
    port: new Map<number, string>(),
    alias: new Map<string, string>(),
  };
  for (const cluster of clusters) {
    const subject = `cluster "${cluster.clusterId}"`;
    if (seen.clusterId.has(cluster.clusterId))
      throw new RenderError('is registered twice', subject);
    seen.clusterId.set(cluster.clusterId, cluster.clusterId);
    for (const port of claimedPorts(cluster)) {
      const portOwner = seen.port.get(port);
      if (portOwner !== undefined) {
        throw new RenderError(`port ${port} is also the port of cluster "${portOwner}"`, subject);
      }
      seen.port.set(port, cluster.clusterId);
    }
    for (const alias of claimedAliases(cluster)) {
      const aliasOwner = seen.alias.get(alias);
      if (aliasOwner !== undefined) {
        throw new RenderError(
          `alias "${alias}" is also an alias of cluster "${aliasOwner}"`,
          subject,
        );
      }
      seen.alias.set(alias, cluster.clusterId);
    }
  }
}

/** validated, unless this process's reader already parsed the value with the same schema. */
function validatedOnce<S extends z.ZodType>(
  schema: S,
  value: unknown,
  subject: string,
): z.output<S> {
  if (wasParsedBy(schema, value)) return value as z.output<S>;
  return validated(schema, value, subject);
}

/** Parse with a contract schema; the first issue becomes a RenderError naming path and value. */
function validated<S extends z.ZodType>(schema: S, value: unknown, subject: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path ?? [];
  const at = path.join('.') || '(value)';
  throw new RenderError(`${at} ${showValue(valueAt(value, path))}: ${issue?.message}`, subject, {
    cause: parsed.error,
  });
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
