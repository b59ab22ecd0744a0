import { awsErrorMessage } from '@aurora-haproxy/contract/aws-errors';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { StateStoreError } from './errors';

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/** Translate a DynamoDB exception into the unit's error, naming what was being done. */
export function storeError(doing: string, cause: unknown): StateStoreError {
  return new StateStoreError(`${doing} failed: ${awsErrorMessage(cause)}`, { cause });
}
