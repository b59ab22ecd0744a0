import { afterAll, beforeAll } from 'vitest';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../local-stack/dynamodb-local';

/**
 * One DynamoDB Local for the test file that calls this at its top level (or in a describe):
 * started, with the project's table created under each name in `tables`, before the file's
 * tests; stopped by PID after them, whether they passed or not. Returns a getter: call it
 * inside a test or hook, once the instance is up.
 */
export function useDynamoDbLocal(...tables: string[]): () => DynamoDbLocal {
  let ddb: DynamoDbLocal | undefined;
  beforeAll(async () => {
    ddb = await startDynamoDbLocal();
    for (const table of tables) await ddb.createTable(table);
  });
  afterAll(async () => {
    await ddb?.stop();
  });
  return () => {
    if (!ddb) throw new Error('DynamoDB Local is not up: call the getter inside a test or a hook');
    return ddb;
  };
}
