import { isConditionalCheckFailed } from '@aurora-haproxy/contract/aws-errors';
import type { DesiredStateItem } from '@aurora-haproxy/contract/bundle-item';
import { SHA256_HEX } from '@aurora-haproxy/contract/patterns';
import { keys } from '@aurora-haproxy/contract/table';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { documentClient, storeError } from './document-client';
import { DesiredPointerConflictError, StoredItemInvalidError } from './errors';

const DesiredStateItemSchema = z.object({
  sha256: z.string().regex(SHA256_HEX),
  version: z.number().int().min(1),
  updatedAt: z.string(),
});

/**
 * The desired-state pointer {sha256, version, updatedAt}. Every write is a compare-and-swap
 * on the version read, so of two reconciles that read the same version only one can move it.
 */
export class DesiredPointerStore {
  private readonly doc: DynamoDBDocumentClient;
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  async read(): Promise<DesiredStateItem | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const out = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: keys.desired, ConsistentRead: true }),
      );
      item = out.Item;
    } catch (error) {
      throw storeError('reading the desired pointer', error);
    }
    if (!item) return undefined;
    const parsed = DesiredStateItemSchema.safeParse(item);
    if (!parsed.success) {
      throw new StoredItemInvalidError(
        `desired pointer: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      );
    }
    return parsed.data;
  }

  /**
   * Point at `sha256` if the pointer is still at `expectedVersion` (undefined: still absent).
   * Throws DesiredPointerConflictError when another writer moved it first.
   */
  async swap(
    expectedVersion: number | undefined,
    sha256: string,
    now: Date,
  ): Promise<DesiredStateItem> {
    const next: DesiredStateItem = {
      sha256,
      version: (expectedVersion ?? 0) + 1,
      updatedAt: now.toISOString(),
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.desired, ...next },
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: 'version = :expected',
                ExpressionAttributeValues: { ':expected': expectedVersion },
              }),
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new DesiredPointerConflictError(expectedVersion);
      throw storeError('moving the desired pointer', error);
    }
    return next;
  }
}
