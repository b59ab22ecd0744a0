import type { Bundle } from '@aurora-haproxy/contract/bundle';
import {
  BUNDLE_BODY_ATTRIBUTE,
  type DesiredStateItem,
  manifestParts,
  readBundleBody,
} from '@aurora-haproxy/contract/bundle-item';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { SHA256_HEX } from '@aurora-haproxy/contract/patterns';
import { keys } from '@aurora-haproxy/contract/table';
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  type GetItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import * as z from 'zod';
import { BundleSourceError, NothingDesiredError } from './errors';
import type { BundleSource } from './source';

/**
 * Bundles in the project's DynamoDB table: item BUNDLE#<sha>/BUNDLE with a gzip body, and
 * for a large bundle its parts BUNDLE#<sha>/PART#nnnn (see packages/contract/src/bundle-item.ts), and the desired pointer DESIRED/STATE. Consistent reads: a bundle
 * is written just before the command that names it, and a stale pointer at boot would sync an
 * old bundle.
 */
/**
 * Every read is bounded (issue 10.6): without it, an unresponsive table held `apply` until
 * the SSM step's 120 s cut-off, and no result line was printed. Each attempt connects within
 * 1 s and is cut off after 3 s idle; at most 3 attempts; and the whole read, retries
 * included, is aborted after 12 s, so apply and sync always end with their result line.
 */
export const BUNDLE_SOURCE_TIMEOUTS = {
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 3_000,
  maxAttempts: 3,
  readDeadlineMs: 12_000,
} as const;

/** The DynamoDB client settings of the agent (agent/apply/deps.ts). */
export function bundleSourceClientConfig(timeouts = BUNDLE_SOURCE_TIMEOUTS) {
  return {
    maxAttempts: timeouts.maxAttempts,
    requestHandler: {
      connectionTimeout: timeouts.connectionTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  } as const;
}

const DesiredSchema = z.object({
  sha256: z.string().regex(SHA256_HEX),
  version: z.number().int().min(0),
  updatedAt: z.string(),
});

export class DynamoDbBundleSource implements BundleSource {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly readDeadlineMs: number = BUNDLE_SOURCE_TIMEOUTS.readDeadlineMs,
  ) {}

  async getBundle(sha256: string): Promise<Bundle> {
    const item = await this.getItem(keys.bundle(sha256), `bundle ${sha256}`);
    const manifest = {
      parts: manifestParts(item.parts?.N, sha256),
      body: this.body(item, `bundle ${sha256}`),
    };
    // Parts of a large bundle (packages/contract/src/bundle-item.ts): same partition, GetItem each.
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
    const item = await this.getItem(keys.desired, 'the desired-state pointer', NothingDesiredError);
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

  private async getItem(
    key: { pk: string; sk: string },
    what: string,
    Absent: typeof BundleSourceError = BundleSourceError,
  ) {
    let output: GetItemCommandOutput;
    const deadline = AbortSignal.timeout(this.readDeadlineMs);
    try {
      output = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          ConsistentRead: true,
        }),
        { abortSignal: deadline },
      );
    } catch (cause) {
      const reason = deadline.aborted
        ? `no answer within ${this.readDeadlineMs} ms`
        : `${(cause as Error).name}: ${errorMessage(cause)}`;
      throw new BundleSourceError(`cannot read ${what} from table ${this.tableName}: ${reason}`, {
        cause,
      });
    }
    if (output.Item === undefined) {
      throw new Absent(`${what} is not in table ${this.tableName}`);
    }
    return output.Item;
  }
}
