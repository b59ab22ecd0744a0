import {
  claimedAliases,
  claimedPorts,
  claimField,
  mergeOptions,
  type RegistryCluster,
  RegistryClusterSchema,
} from '@aurora-haproxy/contract/registry';
import type { RegistryPort } from '../../../functions/admin/admin';
import {
  AliasTakenError,
  ClusterExistsError,
  ClusterNotFoundError,
  PortTakenError,
  RegistryValidationError,
  VersionConflictError,
} from '../../../functions/registry/errors';
import {
  type ValidatedAdd,
  type ValidatedUpdate,
  validationIssues,
} from '../../../functions/registry/validate';

/**
 * An in-memory stand-in for RegistryStore, for unit tests of the admin actions and the CLI
 * (the real store is tested against DynamoDB Local). Records every call.
 */
export class FakeRegistry implements RegistryPort {
  readonly clusters = new Map<string, RegistryCluster>();
  readonly calls: { method: string; args: unknown[] }[] = [];
  now = '2026-11-26T09:00:00.000Z';

  /** Not recorded in `calls`: a read, like `get`, that changes nothing. */
  async count(): Promise<number> {
    return this.clusters.size;
  }

  async add(input: ValidatedAdd): Promise<RegistryCluster> {
    this.calls.push({ method: 'add', args: [input] });
    if (this.clusters.has(input.clusterId)) throw new ClusterExistsError(input.clusterId);
    const cluster = checked({ ...input, version: 1, createdAt: this.now, updatedAt: this.now });
    this.assertClaimsFree(cluster);
    this.clusters.set(cluster.clusterId, cluster);
    return cluster;
  }

  /** Like the store's claim items: no other cluster holds one of its ports or aliases. */
  private assertClaimsFree(cluster: RegistryCluster): void {
    for (const other of this.clusters.values()) {
      if (other.clusterId === cluster.clusterId) continue;
      for (const port of claimedPorts(cluster)) {
        if (claimedPorts(other).includes(port)) {
          throw new PortTakenError(port, other.clusterId, claimField(cluster, { port }));
        }
      }
      for (const alias of claimedAliases(cluster)) {
        if (claimedAliases(other).includes(alias)) {
          throw new AliasTakenError(alias, other.clusterId, claimField(cluster, { alias }));
        }
      }
    }
  }

  async update(input: ValidatedUpdate): Promise<RegistryCluster> {
    this.calls.push({ method: 'update', args: [input] });
    const current = this.clusters.get(input.clusterId);
    if (!current) throw new ClusterNotFoundError(input.clusterId);
    if (current.version !== input.version) {
      throw new VersionConflictError(input.clusterId, input.version, current.version);
    }
    const next = checked({
      ...current,
      port: input.port ?? current.port,
      databases: input.databases ?? current.databases,
      options: mergeOptions(current.options, input.options),
      version: current.version + 1,
      updatedAt: this.now,
    });
    this.assertClaimsFree(next);
    this.clusters.set(next.clusterId, next);
    return next;
  }

  async remove(clusterId: string, expectedVersion?: number): Promise<RegistryCluster> {
    this.calls.push({ method: 'remove', args: [clusterId, expectedVersion] });
    const current = this.clusters.get(clusterId);
    if (!current) throw new ClusterNotFoundError(clusterId);
    if (expectedVersion !== undefined && expectedVersion !== current.version) {
      throw new VersionConflictError(clusterId, expectedVersion, current.version);
    }
    this.clusters.delete(clusterId);
    return current;
  }

  async get(clusterId: string): Promise<RegistryCluster | undefined> {
    this.calls.push({ method: 'get', args: [clusterId] });
    return this.clusters.get(clusterId);
  }

  async list(): Promise<RegistryCluster[]> {
    this.calls.push({ method: 'list', args: [] });
    return [...this.clusters.values()].sort((a, b) => a.clusterId.localeCompare(b.clusterId));
  }
}

/** The store's check of the entry it is about to write (the merged update included). */
function checked(candidate: unknown): RegistryCluster {
  const parsed = RegistryClusterSchema.safeParse(candidate);
  if (!parsed.success) throw new RegistryValidationError(validationIssues(parsed.error));
  return parsed.data;
}
