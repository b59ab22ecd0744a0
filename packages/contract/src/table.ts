/**
 * The one DynamoDB table (single-table design): key `pk` (S) + `sk` (S). Every item the
 * project stores, and who writes it. The instance profile may read only items whose pk
 * starts with BUNDLE# (IAM condition dynamodb:LeadingKeys).
 */
export const TABLE_KEYS = { partition: 'pk', sort: 'sk' } as const;

export const keys = {
  /** Registry entry of one cluster (admin Lambda). List = Query pk=REGISTRY. */
  cluster: (clusterId: string) => ({ pk: 'REGISTRY', sk: `CLUSTER#${clusterId}` }),
  registryPartition: 'REGISTRY',
  /** Claim of a HAProxy port: conditional put in the same transaction as the cluster. */
  portClaim: (port: number) => ({ pk: `PORT#${port}`, sk: 'CLAIM' }),
  /** Claim of a PgBouncer alias, same transaction. */
  aliasClaim: (alias: string) => ({ pk: `ALIAS#${alias}`, sk: 'CLAIM' }),
  /** Last known good topology of a cluster (reconcile). */
  topology: (clusterId: string) => ({ pk: `TOPOLOGY#${clusterId}`, sk: 'LAST' }),
  /** A bundle, content-addressed (reconcile writes; agents read). Body gzip-compressed. */
  bundle: (sha256: string) => ({ pk: `BUNDLE#${sha256}`, sk: 'BUNDLE' }),
  /**
   * Part 1.. of a bundle too large for one item (packages/contract/src/bundle-item.ts): in the bundle's
   * own partition, so the hosts' BUNDLE#* read permission covers it.
   */
  bundlePart: (sha256: string, index: number) => ({
    pk: `BUNDLE#${sha256}`,
    sk: `PART#${String(index).padStart(4, '0')}`,
  }),
  /** The desired-state pointer: current sha, version for compare-and-swap (reconcile). */
  desired: { pk: 'DESIRED', sk: 'STATE' },
  /** A delivery: SSM command id, sha, instance ids, time (reconcile). */
  delivery: (commandId: string) => ({ pk: 'DELIVERY', sk: commandId }),
  /**
   * Per-instance delivery state of the desired sha: which command last carried it to each
   * instance (reconcile; read by status and by the scheduled re-delivery). 'LATEST' cannot
   * collide with an SSM command id (a UUID).
   */
  deliveryState: { pk: 'DELIVERY', sk: 'LATEST' },
  /**
   * When the latest complete reconcile looked at RDS (reconcile): an RDS event older than
   * that look (by a margin) is already covered and skipped without calling RDS.
   */
  reconcileMark: { pk: 'RECONCILE', sk: 'LAST' },
} as const;
