import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  type GetItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import type { Bundle } from '../../functions/contracts/bundle';
import {
  BUNDLE_BODY_ATTRIBUTE,
  type DesiredStateItem,
  manifestParts,
  readBundleBody,
} from '../../functions/contracts/bundle-item';
import { SHA256_HEX } from '../../functions/contracts/patterns';
import { keys } from '../../functions/contracts/table';
import { BundleSourceError } from './errors';
import type { BundleSource } from './source';

/**
 * Bundles in the project's DynamoDB table: item BUNDLE#<sha>/BUNDLE with a gzip body, and
 * for a large bundle its parts BUNDLE#<sha>/PART#nnnn (see contracts/bundle-item.ts), and the desired pointer DESIRED/STATE. Consistent reads: a bundle
 * is written just before the command that names it, and a stale pointer at boot would sync an
 * old bundle.
 */
const DesiredSchema = z.object({
  sha256: z.string().regex(SHA256_HEX),
  version: z.number().int().min(0),
  updatedAt: z.string(),
});

export class DynamoDbBundleSource implements BundleSource {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async getBundle(sha256: string): Promise<Bundle> {
    const item = await this.getItem(keys.bundle(sha256), `bundle ${sha256}`);
    const manifest = {
      parts: manifestParts(item.parts?.N, sha256),
      body: this.body(item, `bundle ${sha256}`),
    };
    // Parts of a large bundle (contracts/bundle-item.ts): same partition, GetItem each.
    return readBundleBody(sha256, manifest, async (index) =>
      this.body(
        await this.getItem(keys.bundlePart(sha256, index), `part ${index} of bundle ${sha256}`),
        `part ${index} of bundle ${sha256}`,
      ),
    );
  }

  private body(item: Record<string, AttributeValue>, what: string): Uint8Array {
    const body = item[BUNDLE_BODY_ATTRIBUTE]?.B;
    if (body === undefined) {
      throw new BundleSourceError(`${what} in ${this.tableName} has no binary body`);
    }
    return body;
  }

  async getDesired(): Promise<DesiredStateItem> {
    const item = await this.getItem(keys.desired, 'the desired-state pointer');
    const parsed = DesiredSchema.safeParse({
      sha256: item.sha256?.S,
      version: item.version?.N === undefined ? undefined : Number(item.version.N),
      updatedAt: item.updatedAt?.S,
    });
    if (!parsed.success) {
      throw new BundleSourceError(
        `the desired-state pointer in ${this.tableName} is malformed: ${parsed.error.issues[0]?.message}`,
      );
    }
    return parsed.data;
  }

  private async getItem(key: { pk: string; sk: string }, what: string) {
    let output: GetItemCommandOutput;
    try {
      output = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          ConsistentRead: true,
        }),
      );
    } catch (cause) {
      throw new BundleSourceError(
        `cannot read ${what} from table ${this.tableName}: ${(cause as Error).name}: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (output.Item === undefined) {
      throw new BundleSourceError(`${what} is not in table ${this.tableName}`);
    }
    return output.Item;
  }
}
