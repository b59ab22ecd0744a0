import type { Bundle } from '@aurora-haproxy/contract/bundle';
import type { DesiredStateItem } from '@aurora-haproxy/contract/bundle-item';
import { type RegistryCluster, RegistryClusterSchema } from '@aurora-haproxy/contract/registry';
import { DesiredPointerConflictError } from '../../../functions/state/errors';

export function registryCluster(
  clusterId: string,
  port: number,
  options: object = {},
): RegistryCluster {
  return RegistryClusterSchema.parse({
    clusterId,
    port,
    databases: [{ alias: clusterId.replace(/-/g, '_'), dbname: clusterId }],
    options: {
      balance: 'leastconn',
      checkMode: 'agent',
      fallbackToWriter: false,
      weights: 'equal',
      excludeInstances: [],
      ...options,
    },
    version: 1,
    createdAt: '2026-11-26T08:00:00.000Z',
    updatedAt: '2026-11-26T08:00:00.000Z',
  });
}

export class MemoryRegistry {
  constructor(public clusters: RegistryCluster[]) {}
  async list() {
    return structuredClone(this.clusters);
  }
}

export class MemoryBundles {
  readonly items = new Map<string, Bundle>();
  puts = 0;
  async put(bundle: Bundle) {
    this.puts++;
    if (this.items.has(bundle.sha256)) return 'existed' as const;
    this.items.set(bundle.sha256, structuredClone(bundle));
    return 'stored' as const;
  }
  replaced = 0;
  async replace(bundle: Bundle) {
    this.replaced++;
    this.items.set(bundle.sha256, structuredClone(bundle));
  }
  async get(sha256: string) {
    return this.items.get(sha256);
  }
}

/** A desired pointer with the store's CAS contract; `beforeSwap` lets a test race it. */
export class MemoryPointer {
  item: DesiredStateItem | undefined;
  beforeSwap: (() => void) | undefined;
  async read() {
    return this.item ? { ...this.item } : undefined;
  }
  async swap(expected: number | undefined, sha256: string, now: Date) {
    this.beforeSwap?.();
    if ((this.item?.version ?? undefined) !== expected)
      throw new DesiredPointerConflictError(expected);
    this.item = { sha256, version: (expected ?? 0) + 1, updatedAt: now.toISOString() };
    return { ...this.item };
  }
}

export class MemoryMark {
  lookedAt: string | undefined;
  async read() {
    return this.lookedAt;
  }
  async advance(at: Date) {
    if (!this.lookedAt || this.lookedAt < at.toISOString()) this.lookedAt = at.toISOString();
  }
}
