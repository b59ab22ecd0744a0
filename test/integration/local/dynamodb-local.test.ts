import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DynamoDbLocal,
  startDynamoDbLocal,
} from '../../../packages/local-stack/dynamodb-local';
import { isAlive } from '../../../packages/local-stack/process/managed-process';

describe('DynamoDB Local launcher', () => {
  let ddb: DynamoDbLocal;
  beforeAll(async () => {
    ddb = await startDynamoDbLocal();
  });
  afterAll(async () => {
    await ddb?.stop();
  });

  it('creates the project table and rejects a conditional put on an existing key', async () => {
    // Prepare
    await ddb.createTable('registry-test');
    const client = ddb.client();
    const item = { pk: { S: 'PORT#15432' }, sk: { S: 'CLAIM' } };
    await client.send(new PutItemCommand({ TableName: 'registry-test', Item: item }));

    // Act
    const second = client.send(
      new PutItemCommand({
        TableName: 'registry-test',
        Item: item,
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );

    // Assess
    await expect(second).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    const read = await client.send(new GetItemCommand({ TableName: 'registry-test', Key: item }));
    expect(read.Item?.pk?.S).toBe('PORT#15432');
    client.destroy();
  });

  it('is ended by PID', async () => {
    const local = await startDynamoDbLocal();
    expect(isAlive(local.pid)).toBe(true);
    await local.stop();
    expect(isAlive(local.pid)).toBe(false);
  });
});
