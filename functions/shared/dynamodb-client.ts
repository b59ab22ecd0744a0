import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { addCallDeadline } from './deadline';

/**
 * The DynamoDB client of the Lambdas. Every call is bounded, whatever the table does:
 * - each attempt: connect within 1 s, and a request idle for 2 s is cut off (and thrown,
 *   not only logged) — a table that accepts and never answers costs 2 s per attempt;
 * - at most 3 attempts (the SDK's backoff between them);
 * - and a deadline over the whole call, retries included (8 s), which also catches a
 *   server that trickles bytes so the idle timer never fires.
 * Without these, a reconcile against an unresponsive table hung past 90 s (issue 10.6).
 */
export const DYNAMODB_TIMEOUTS = {
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  maxAttempts: 3,
  callDeadlineMs: 8_000,
} as const;

export function createDynamoDbClient(
  config: DynamoDBClientConfig = {},
  timeouts: Partial<typeof DYNAMODB_TIMEOUTS> = {},
): DynamoDBClient {
  const t = { ...DYNAMODB_TIMEOUTS, ...timeouts };
  const client = new DynamoDBClient({
    maxAttempts: t.maxAttempts,
    requestHandler: {
      connectionTimeout: t.connectionTimeoutMs,
      requestTimeout: t.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
    ...config,
  });
  addCallDeadline(client, t.callDeadlineMs, 'DynamoDB');
  return client;
}
