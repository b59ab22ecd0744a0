import { randomBytes } from 'node:crypto';
import { type Bundle, sealBundle } from '@aurora-haproxy/contract/bundle';
import { BUNDLE_PART_BYTES } from '@aurora-haproxy/contract/bundle-item';
import { keys } from '@aurora-haproxy/contract/table';
import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { DeleteItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbBundleSource } from '../../../agent/bundle-source/dynamodb';
import { BundleStore } from '../../../functions/state/bundle-store';

/**
 * Bundles larger than DynamoDB's 400 KB item, in DynamoDB Local: stored as a manifest and
 * parts in the bundle's partition, read back whole and verified by the orchestrator's store
 * and by the agent's source (GetItem only, the hosts' permission), and a missing part fails
 * the read instead of yielding a bundle.
 */
const TABLE = 'bundle-parts-test';

const ddb = useDynamoDbLocal(TABLE);

/** A valid bundle whose gzip is about `gzipBytes` (random text does not compress). */
function largeBundle(gzipBytes: number): Bundle {
  // base64 carries 6 bits a character: gzip brings it back to about the random bytes.
  const text = randomBytes(gzipBytes).toString('base64');
  return sealBundle(
    {
      schema: 1,
      structureSha256: 'c'.repeat(64),
      files: { haproxy: `global\n# ${text}\n`, pgbouncerDatabases: '' },
      clusters: [],
    },
    new Date('2026-12-02T09:00:00Z'),
  );
}

async function itemsOf(sha256: string): Promise<string[]> {
  const out = await ddb()
    .client()
    .send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: keys.bundle(sha256).pk } },
        ProjectionExpression: 'sk',
      }),
    );
  return (out.Items ?? []).map((i) => i.sk?.S ?? '');
}

describe('bundles larger than one DynamoDB item', () => {
  it('are stored as a manifest and parts, and read back whole by the store and the agent', async () => {
    // Prepare: about 2.6 parts of gzip, past the 400 KB item limit
    const bundle = largeBundle(Math.round(BUNDLE_PART_BYTES * 2.6));
    const store = new BundleStore(ddb().client(), TABLE);

    // Act
    const first = await store.put(bundle);
    const again = await store.put(bundle);
    const agentCopy = await new DynamoDbBundleSource(ddb().client(), TABLE).getBundle(
      bundle.sha256,
    );
    const storeCopy = await new BundleStore(ddb().client(), TABLE).get(bundle.sha256);

    // Assess
    expect([first, again]).toEqual(['stored', 'existed']);
    expect(await itemsOf(bundle.sha256)).toEqual(['BUNDLE', 'PART#0001', 'PART#0002']);
    expect(agentCopy).toEqual(bundle);
    expect(storeCopy).toEqual(bundle);
  });

  it('stores a small bundle as one item, as before parts existed', async () => {
    // Prepare
    const bundle = largeBundle(1000);

    // Act
    await new BundleStore(ddb().client(), TABLE).put(bundle);

    // Assess
    expect(await itemsOf(bundle.sha256)).toEqual(['BUNDLE']);
    expect(await new DynamoDbBundleSource(ddb().client(), TABLE).getBundle(bundle.sha256)).toEqual(
      bundle,
    );
  });

  it('fails the read, naming the part, when a part is missing', async () => {
    // Prepare
    const bundle = largeBundle(Math.round(BUNDLE_PART_BYTES * 1.5));
    await new BundleStore(ddb().client(), TABLE).put(bundle);
    const part = keys.bundlePart(bundle.sha256, 1);
    await ddb()
      .client()
      .send(
        new DeleteItemCommand({
          TableName: TABLE,
          Key: { pk: { S: part.pk }, sk: { S: part.sk } },
        }),
      );

    // Act (both reads settle before either is inspected: no rejection is left unhandled)
    const [agentRead, storeRead] = await Promise.allSettled([
      new DynamoDbBundleSource(ddb().client(), TABLE).getBundle(bundle.sha256),
      new BundleStore(ddb().client(), TABLE).get(bundle.sha256),
    ]);

    // Assess
    expect(agentRead.status).toBe('rejected');
    expect(String((agentRead as PromiseRejectedResult).reason)).toMatch(
      /part 1 of bundle .* is not in table/,
    );
    expect(storeRead.status).toBe('rejected');
    expect(String((storeRead as PromiseRejectedResult).reason)).toMatch(/part 1 is missing/);
  });
});
