import { markParsed } from '@aurora-haproxy/contract/parsed-marks';
import { type RegistryCluster, RegistryClusterSchema } from '@aurora-haproxy/contract/registry';
import { keys } from '@aurora-haproxy/contract/table';
import { RegistryStoreError } from './errors';

/**
 * How registry entries and their claims look in the table. The cluster item carries the
 * entry's fields next to its keys; a claim item names the cluster holding it, so a release
 * can be made conditional on still holding it.
 */
export type ClaimItem = {
  pk: string;
  sk: string;
  clusterId: string;
};

export function clusterItem(cluster: RegistryCluster): Record<string, unknown> {
  return { ...keys.cluster(cluster.clusterId), ...cluster };
}

export function portClaimItem(port: number, clusterId: string): ClaimItem {
  return { ...keys.portClaim(port), clusterId };
}

export function aliasClaimItem(alias: string, clusterId: string): ClaimItem {
  return { ...keys.aliasClaim(alias), clusterId };
}

/** A stored item is outside input too: parse it, and say which item is malformed. */
export function clusterFromItem(item: Record<string, unknown>): RegistryCluster {
  const { pk: _pk, sk, ...fields } = item;
  const parsed = RegistryClusterSchema.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RegistryStoreError(
      `stored registry item ${String(sk)} is malformed: ${issue?.path.join('.') || '(item)'}: ${issue?.message}`,
    );
  }
  // Marked: the render does not parse it again (contracts/parsed-marks.ts).
  return markParsed(RegistryClusterSchema, parsed.data);
}
