import { isConditionalCheckFailed } from '@aurora-haproxy/contract/aws-errors';
import { keys } from '@aurora-haproxy/contract/table';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, storeError } from './document-client';

/**
 * When the latest complete reconcile started looking at RDS with every cluster answered
 * fresh: item { pk: RECONCILE, sk: LAST, lookedAt }. It only ever moves forward.
 */
export class ReconcileMarkStore {
  private readonly doc: DynamoDBDocumentClient;
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  /** ISO time of the latest complete look, or undefined. */
  async read(): Promise<string | undefined> {
    try {
      const out = await this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.reconcileMark,
          ConsistentRead: true,
        }),
      );
      const lookedAt = out.Item?.lookedAt;
      return typeof lookedAt === 'string' && !Number.isNaN(Date.parse(lookedAt))
        ? lookedAt
        : undefined;
    } catch (error) {
      throw storeError('reading the reconcile mark', error);
    }
  }

  /** Move the mark to `lookedAt` unless it is already later. */
  async advance(lookedAt: Date): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.reconcileMark, lookedAt: lookedAt.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk) OR lookedAt < :t',
          ExpressionAttributeValues: { ':t': lookedAt.toISOString() },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) return;
      throw storeError('advancing the reconcile mark', error);
    }
  }
}
