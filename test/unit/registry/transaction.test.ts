import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { type PlannedItem, readCancellation } from '../../../functions/registry/transaction';

const plan: PlannedItem[] = [
  { part: { kind: 'cluster' }, item: {} },
  { part: { kind: 'port-claim', port: 15432 }, item: {} },
  { part: { kind: 'alias-claim', alias: 'orders' }, item: {} },
];

function cancelled(codes: string[], items: (Record<string, unknown> | undefined)[] = []) {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code, i) => ({ Code, Item: items[i] as never })),
  });
}

describe('readCancellation', () => {
  it('names the failed conditions and who holds the claim', () => {
    // Act
    const verdict = readCancellation(
      cancelled(
        ['None', 'ConditionalCheckFailed', 'None'],
        [undefined, { clusterId: { S: 'billing' } }],
      ),
      plan,
    );

    // Assess
    expect(verdict).toEqual({
      failed: [{ part: { kind: 'port-claim', port: 15432 }, heldBy: 'billing' }],
      retryable: false,
    });
  });

  it('is retryable when only transaction conflicts cancelled it', () => {
    expect(readCancellation(cancelled(['TransactionConflict', 'None', 'None']), plan)).toEqual({
      failed: [],
      retryable: true,
    });
  });

  it('prefers a failed condition over a conflict', () => {
    expect(
      readCancellation(cancelled(['TransactionConflict', 'None', 'ConditionalCheckFailed']), plan),
    ).toMatchObject({
      failed: [{ part: { kind: 'alias-claim', alias: 'orders' } }],
      retryable: false,
    });
  });

  it('leaves other errors and other reasons to the caller', () => {
    expect(readCancellation(new Error('boom'), plan)).toBeUndefined();
    expect(readCancellation(cancelled(['ThrottlingError', 'None', 'None']), plan)).toBeUndefined();
  });
});
