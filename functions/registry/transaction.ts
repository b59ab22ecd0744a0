import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';

/**
 * What each item of a registry transaction stands for, so a cancellation can be translated
 * into the unit's own error naming the port, alias or cluster at fault.
 */
export type TransactionPart =
  | { kind: 'cluster' }
  | { kind: 'port-claim'; port: number; field?: string }
  | { kind: 'alias-claim'; alias: string; field?: string }
  | { kind: 'release' };

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface PlannedItem {
  part: TransactionPart;
  item: TransactItem;
}

export interface CancellationVerdict {
  /** Items whose condition failed, with the cluster holding the claim when DynamoDB said so. */
  failed: { part: TransactionPart; heldBy?: string }[];
  /** Only transaction conflicts (another transaction on the same items): safe to retry. */
  retryable: boolean;
}

/**
 * Reads CancellationReasons (one per item, in order). Pass conditions: any
 * ConditionalCheckFailed is a verdict (not retryable); only TransactionConflict reasons
 * means retryable; anything else (throttling, validation) is neither and is rethrown.
 */
export function readCancellation(
  error: unknown,
  plan: readonly PlannedItem[],
): CancellationVerdict | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  const reasons = error.CancellationReasons ?? [];
  const failed: CancellationVerdict['failed'] = [];
  let conflicts = 0;
  reasons.forEach((reason, index) => {
    const planned = plan[index];
    if (!planned) return;
    if (reason.Code === 'ConditionalCheckFailed') {
      failed.push({ part: planned.part, heldBy: heldByOf(reason.Item) });
    } else if (reason.Code === 'TransactionConflict') {
      conflicts += 1;
    }
  });
  if (failed.length > 0) return { failed, retryable: false };
  if (conflicts > 0) return { failed, retryable: true };
  return undefined;
}

function heldByOf(item: unknown): string | undefined {
  const attr = (item as Record<string, unknown> | undefined)?.clusterId;
  if (typeof attr === 'string') return attr;
  const s = (attr as { S?: unknown } | undefined)?.S;
  return typeof s === 'string' ? s : undefined;
}
