import { isConditionalCheckFailed } from '@aurora-haproxy/contract/aws-errors';
import { SHA256_HEX } from '@aurora-haproxy/contract/patterns';
import { keys } from '@aurora-haproxy/contract/table';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { documentClient, storeError } from './document-client';
import { StoredItemInvalidError } from './errors';

/** One SSM command sent: item { pk: DELIVERY, sk: <commandId>, ... } (audit trail). */
export const DeliveryCommandRecordSchema = z.object({
  commandId: z.string().min(1),
  sha256: z.string().regex(SHA256_HEX),
  instanceIds: z.array(z.string()),
  requestedAt: z.string(),
  /** Why it was sent: new-desired, failed, timed-out, new-instance, drift, ... */
  reason: z.string(),
});
export type DeliveryCommandRecord = z.infer<typeof DeliveryCommandRecordSchema>;

/**
 * Which command last carried the desired sha to each instance: item { pk: DELIVERY,
 * sk: LATEST }. Replaced when a new sha is delivered, merged on re-delivery.
 */
export const DeliveryStateSchema = z.object({
  sha256: z.string().regex(SHA256_HEX),
  updatedAt: z.string(),
  /** instanceId -> commandId */
  instances: z.record(z.string(), z.string()),
  /**
   * Instances whose deliveries of this sha keep failing (or that SendCommand refused):
   * consecutive failed attempts, the latest attempt, why (delivery/backoff.ts).
   */
  failing: z
    .record(
      z.string(),
      z.object({
        count: z.number().int().min(1),
        lastAt: z.string(),
        reason: z.string(),
        error: z.string().optional(),
      }),
    )
    .optional(),
});
export type DeliveryState = z.infer<typeof DeliveryStateSchema>;

export class DeliveryRecords {
  private readonly doc: DynamoDBDocumentClient;
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  /**
   * Record the commands just sent, then the delivery state that points at them. The state
   * is written only if the desired pointer still names its sha (read just before), and a
   * merge only onto a stored state of the same sha (conditional put): a slow run does not
   * overwrite the delivery state of a newer bundle. The pointer read and the write are not
   * one transaction (that would need dynamodb:ConditionCheckItem); with reserved
   * concurrency 1 no other run can move the pointer in between, and if one did, the next
   * scheduled check finds the state's sha differs from the desired one and delivers again.
   * Returns 'superseded' when the state was not written for these reasons.
   */
  async record(
    commands: readonly DeliveryCommandRecord[],
    state: DeliveryState,
    options: { merge?: boolean } = {},
  ): Promise<'recorded' | 'superseded'> {
    try {
      await Promise.all(
        commands.map((command) =>
          this.doc.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...keys.delivery(command.commandId), ...command },
            }),
          ),
        ),
      );
      const desired = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: keys.desired, ConsistentRead: true }),
      );
      if (desired.Item?.sha256 !== state.sha256) return 'superseded';
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.deliveryState, ...state },
          ...(options.merge
            ? {
                ConditionExpression: 'sha256 = :sha',
                ExpressionAttributeValues: { ':sha': state.sha256 },
              }
            : {}),
        }),
      );
      return 'recorded';
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'superseded';
      throw storeError('recording a delivery', error);
    }
  }

  async readState(): Promise<DeliveryState | undefined> {
    const item = await this.getItem(keys.deliveryState, 'reading the delivery state');
    if (!item) return undefined;
    const parsed = DeliveryStateSchema.safeParse(item);
    if (!parsed.success) {
      throw new StoredItemInvalidError(`delivery state: ${parsed.error.issues[0]?.message}`);
    }
    return parsed.data;
  }

  async getCommand(commandId: string): Promise<DeliveryCommandRecord | undefined> {
    const item = await this.getItem(keys.delivery(commandId), `reading delivery ${commandId}`);
    if (!item) return undefined;
    const parsed = DeliveryCommandRecordSchema.safeParse(item);
    if (!parsed.success) {
      throw new StoredItemInvalidError(`delivery ${commandId}: ${parsed.error.issues[0]?.message}`);
    }
    return parsed.data;
  }

  private async getItem(key: { pk: string; sk: string }, doing: string) {
    try {
      const out = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      );
      return out.Item;
    } catch (error) {
      throw storeError(doing, error);
    }
  }
}
