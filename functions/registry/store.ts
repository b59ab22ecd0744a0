import {
  claimedAliases,
  claimedPorts,
  claimField,
  mergeOptions,
  type RegistryCluster,
  RegistryClusterSchema,
} from '@aurora-haproxy/contract/registry';
import { keys } from '@aurora-haproxy/contract/table';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  AliasTakenError,
  ClusterExistsError,
  ClusterNotFoundError,
  PortTakenError,
  type RegistryError,
  RegistryStoreError,
  RegistryValidationError,
  VersionConflictError,
} from './errors';
import { aliasClaimItem, clusterFromItem, clusterItem, portClaimItem } from './item';
import { type CancellationVerdict, type PlannedItem, readCancellation } from './transaction';
import { type ValidatedAdd, type ValidatedUpdate, validationIssues } from './validate';

export interface RegistryStoreOptions {
  now?: () => Date;
  /** Retries of a transaction cancelled only by TransactionConflict (contention). */
  maxConflictRetries?: number;
}

/**
 * The registry in DynamoDB. Port and alias uniqueness is enforced by DynamoDB itself: every
 * write is one TransactWriteItems that puts the cluster item together with conditional claim
 * items (pk PORT#<port> / ALIAS#<alias>), so of two concurrent writes claiming one port at most
 * one can commit. Updates and removes are conditional on the version read (optimistic lock).
 */
export class RegistryStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly now: () => Date;
  private readonly maxConflictRetries: number;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    options: RegistryStoreOptions = {},
  ) {
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.now = options.now ?? (() => new Date());
    this.maxConflictRetries = options.maxConflictRetries ?? 10;
  }

  /** Register a cluster at version 1. Throws ClusterExistsError, PortTakenError, AliasTakenError. */
  async add(input: ValidatedAdd): Promise<RegistryCluster> {
    const at = this.now().toISOString();
    const cluster = checked({ ...input, version: 1, createdAt: at, updatedAt: at });
    const plan: PlannedItem[] = [
      {
        part: { kind: 'cluster' },
        item: { Put: this.conditionalPut(clusterItem(cluster)) },
      },
      ...claimedPorts(cluster).map((port) => ({
        part: { kind: 'port-claim', port, field: claimField(cluster, { port }) } as const,
        item: { Put: this.conditionalPut(portClaimItem(port, cluster.clusterId)) },
      })),
      ...claimedAliases(cluster).map((alias) => ({
        part: { kind: 'alias-claim', alias, field: claimField(cluster, { alias }) } as const,
        item: { Put: this.conditionalPut(aliasClaimItem(alias, cluster.clusterId)) },
      })),
    ];
    const verdict = await this.transact(plan, `add ${cluster.clusterId}`);
    if (verdict) {
      if (verdict.failed.some((f) => f.part.kind === 'cluster')) {
        throw new ClusterExistsError(cluster.clusterId);
      }
      throw claimError(verdict);
    }
    return cluster;
  }

  /**
   * Change a cluster if it is still at `input.version`; options not sent keep their value.
   * Releases the claims of a port/aliases it gives up and claims the new ones, in one
   * transaction. Throws VersionConflictError (nothing changed), ClusterNotFoundError,
   * PortTakenError, AliasTakenError.
   */
  async update(input: ValidatedUpdate): Promise<RegistryCluster> {
    const current = await this.require(input.clusterId);
    if (current.version !== input.version) {
      throw new VersionConflictError(current.clusterId, input.version, current.version);
    }
    const next = checked({
      ...current,
      port: input.port ?? current.port,
      databases: input.databases ?? current.databases,
      options: mergeOptions(current.options, input.options),
      version: current.version + 1,
      updatedAt: this.now().toISOString(),
    });
    const id = current.clusterId;
    const plan: PlannedItem[] = [
      {
        part: { kind: 'cluster' },
        item: {
          Put: {
            TableName: this.tableName,
            Item: clusterItem(next),
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': current.version },
          },
        },
      },
    ];
    const oldPorts = new Set(claimedPorts(current));
    const newPorts = new Set(claimedPorts(next));
    for (const port of oldPorts) {
      if (!newPorts.has(port)) plan.push(this.release(keys.portClaim(port), id));
    }
    for (const port of newPorts) {
      if (!oldPorts.has(port)) {
        plan.push({
          part: { kind: 'port-claim', port, field: claimField(next, { port }) },
          item: { Put: this.conditionalPut(portClaimItem(port, id)) },
        });
      }
    }
    const oldAliases = new Set(claimedAliases(current));
    const newAliases = new Set(claimedAliases(next));
    for (const alias of oldAliases) {
      if (!newAliases.has(alias)) plan.push(this.release(keys.aliasClaim(alias), id));
    }
    for (const alias of newAliases) {
      if (!oldAliases.has(alias)) {
        plan.push({
          part: { kind: 'alias-claim', alias, field: claimField(next, { alias }) },
          item: { Put: this.conditionalPut(aliasClaimItem(alias, id)) },
        });
      }
    }
    const verdict = await this.transact(plan, `update ${id}`);
    if (verdict) {
      if (verdict.failed.some((f) => f.part.kind === 'cluster')) {
        throw await this.versionConflict(id, input.version);
      }
      throw claimError(verdict);
    }
    return next;
  }

  /**
   * Remove a cluster and its claims (freeing its port and aliases). With `expectedVersion`
   * only if still at that version; without, whatever version it is at when removed.
   */
  async remove(clusterId: string, expectedVersion?: number): Promise<RegistryCluster> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.require(clusterId);
      if (expectedVersion !== undefined && current.version !== expectedVersion) {
        throw new VersionConflictError(current.clusterId, expectedVersion, current.version);
      }
      const id = current.clusterId;
      const plan: PlannedItem[] = [
        {
          part: { kind: 'cluster' },
          item: {
            Delete: {
              TableName: this.tableName,
              Key: keys.cluster(id),
              ConditionExpression: '#version = :expected',
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: { ':expected': current.version },
            },
          },
        },
        ...claimedPorts(current).map((port) => this.release(keys.portClaim(port), id)),
        ...claimedAliases(current).map((alias) => this.release(keys.aliasClaim(alias), id)),
      ];
      const verdict = await this.transact(plan, `remove ${id}`);
      if (!verdict) return current;
      if (!verdict.failed.some((f) => f.part.kind === 'cluster')) throw claimError(verdict);
      // Changed between our read and our delete: an explicit version is a conflict; without
      // one, read the new version and remove that (bounded, like conflict retries).
      if (expectedVersion !== undefined || attempt >= this.maxConflictRetries) {
        throw await this.versionConflict(id, expectedVersion ?? current.version);
      }
    }
  }

  async get(clusterId: string): Promise<RegistryCluster | undefined> {
    const id = clusterId.toLowerCase();
    const read = await this.call(`get ${id}`, () =>
      this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: keys.cluster(id), ConsistentRead: true }),
      ),
    );
    return read.Item ? clusterFromItem(read.Item) : undefined;
  }

  /** How many clusters are registered (a COUNT Query: no item is read into the function). */
  async count(): Promise<number> {
    let total = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.call('count', () =>
        this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: { ':pk': keys.registryPartition, ':prefix': 'CLUSTER#' },
            Select: 'COUNT',
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      total += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return total;
  }

  /** Every registered cluster, ordered by clusterId (follows every page of the Query). */
  async list(
    options: {
      pageSize?: number;
      /**
       * Called for a stored item that no longer parses (e.g. an alias a newer rule refuses),
       * which is then left out; without it such an item throws RegistryStoreError.
       */
      onInvalid?: (error: RegistryStoreError) => void;
    } = {},
  ): Promise<RegistryCluster[]> {
    const clusters: RegistryCluster[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.call('list', () =>
        this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: { ':pk': keys.registryPartition, ':prefix': 'CLUSTER#' },
            ConsistentRead: true,
            Limit: options.pageSize,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        try {
          clusters.push(clusterFromItem(item));
        } catch (error) {
          if (!options.onInvalid || !(error instanceof RegistryStoreError)) throw error;
          options.onInvalid(error);
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return clusters;
  }

  private async require(clusterId: string): Promise<RegistryCluster> {
    const current = await this.get(clusterId);
    if (!current) throw new ClusterNotFoundError(clusterId.toLowerCase());
    return current;
  }

  private async versionConflict(clusterId: string, expected: number): Promise<RegistryError> {
    const now = await this.get(clusterId);
    return now
      ? new VersionConflictError(clusterId, expected, now.version)
      : new ClusterNotFoundError(clusterId);
  }

  private conditionalPut(item: Record<string, unknown>) {
    return {
      TableName: this.tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  /** Delete a claim this cluster holds; a claim already gone is fine, another's is not. */
  private release(key: { pk: string; sk: string }, clusterId: string): PlannedItem {
    return {
      part: { kind: 'release' },
      item: {
        Delete: {
          TableName: this.tableName,
          Key: key,
          ConditionExpression: 'attribute_not_exists(pk) OR clusterId = :holder',
          ExpressionAttributeValues: { ':holder': clusterId },
        },
      },
    };
  }

  /**
   * Run one transaction. Returns undefined when committed, the verdict when a condition
   * failed; retries (with jittered backoff) when cancelled only by transaction conflicts.
   */
  private async transact(
    plan: readonly PlannedItem[],
    what: string,
  ): Promise<CancellationVerdict | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        // The SDK fills ClientRequestToken (an idempotency token) once per command, so its own
        // retries after a commit whose answer was lost succeed instead of reporting our own
        // claims as taken (tested against DynamoDB Local).
        await this.doc.send(new TransactWriteCommand({ TransactItems: plan.map((p) => p.item) }));
        return undefined;
      } catch (error) {
        const verdict = readCancellation(error, plan);
        if (verdict && !verdict.retryable) return verdict;
        if (verdict?.retryable && attempt < this.maxConflictRetries) {
          await sleep(Math.random() * 10 * 2 ** Math.min(attempt, 6));
          continue;
        }
        throw new RegistryStoreError(`registry ${what} failed: ${describe(error)}`, {
          cause: error,
        });
      }
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw new RegistryStoreError(`registry ${what} failed: ${describe(error)}`, {
        cause: error,
      });
    }
  }
}

/** The entry about to be written satisfies the stored contract (defence in depth). */
function checked(candidate: unknown): RegistryCluster {
  const parsed = RegistryClusterSchema.safeParse(candidate);
  if (!parsed.success) throw new RegistryValidationError(validationIssues(parsed.error));
  return parsed.data;
}

function claimError(verdict: CancellationVerdict): RegistryError {
  for (const { part, heldBy } of verdict.failed) {
    if (part.kind === 'port-claim') return new PortTakenError(part.port, heldBy, part.field);
    if (part.kind === 'alias-claim') return new AliasTakenError(part.alias, heldBy, part.field);
  }
  return new RegistryStoreError(
    'registry claims are inconsistent: a port or alias claim is held by another cluster',
  );
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
