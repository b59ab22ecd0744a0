import { isConditionalCheckFailed } from '@aurora-haproxy/contract/aws-errors';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import {
  BUNDLE_BODY_ATTRIBUTE,
  BundleTooLargeError,
  encodeBundleItems,
  manifestParts,
  readBundleBody,
} from '@aurora-haproxy/contract/bundle-item';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { keys } from '@aurora-haproxy/contract/table';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, storeError } from './document-client';
import { BundleTooLargeStateError, StateError, StoredItemInvalidError } from './errors';

/**
 * Bundles, content-addressed by sha256 (item layout, parts, and why parts in the table:
 * packages/contract/src/bundle-item.ts). A put is conditional on the key being absent, so storing the
 * same bundle twice is a harmless no-op and a stored bundle is never overwritten.
 */
/**
 * Decoded bundles of this container, by table and sha. A bundle is immutable and
 * content-addressed (and was verified when decoded), so a cached copy can never be wrong;
 * it saves the read, gunzip and sha check that every reconcile would repeat for `previous`.
 */
const decoded = new Map<string, Bundle>();
const DECODED_MAX = 16;

export class BundleStore {
  private readonly doc: DynamoDBDocumentClient;
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  /**
   * 'stored' when this call wrote the manifest, 'existed' when it was already there. Parts
   * first, then the manifest: a reader that sees the manifest sees every part. Every put is
   * conditional on absence (content-addressed: a part left by a failed earlier try is the
   * same bytes). A bundle past BUNDLE_MAX_PARTS throws BundleTooLargeStateError.
   */
  async put(bundle: Bundle): Promise<'stored' | 'existed'> {
    const items = encodeItems(bundle);
    for (let i = 0; i < items.parts.length; i += PART_CONCURRENCY) {
      await Promise.all(
        items.parts
          .slice(i, i + PART_CONCURRENCY)
          .map((part) =>
            this.putAbsent(part, `storing part ${part.index} of bundle ${bundle.sha256}`),
          ),
      );
    }
    return this.putAbsent(items.manifest, `storing bundle ${bundle.sha256}`);
  }

  private async putAbsent(item: object, doing: string): Promise<'stored' | 'existed'> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item as Record<string, unknown>,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'stored';
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'existed';
      throw storeError(doing, error);
    }
  }

  /**
   * Store a bundle over whatever items its keys hold (manifest and every part): only for a
   * bundle that does not read back as this sha (corrupted or missing). Safe: the content is
   * verified against its sha by every reader. Parts first, then the manifest, as in put.
   */
  async replace(bundle: Bundle): Promise<void> {
    decoded.delete(`${this.tableName}#${bundle.sha256}`);
    const items = encodeItems(bundle);
    try {
      for (const item of [...items.parts, items.manifest]) {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item as unknown as Record<string, unknown>,
          }),
        );
      }
    } catch (error) {
      throw storeError(`storing bundle ${bundle.sha256} again`, error);
    }
  }

  /**
   * The bundle with this sha, verified; undefined when absent. `fresh` reads the table even
   * when this container decoded the bundle before: reconcile uses it for the desired bundle,
   * so an item corrupted in the table is seen (and stored again), not hidden by the cache.
   */
  async get(sha256: string, options: { fresh?: boolean } = {}): Promise<Bundle | undefined> {
    const cacheKey = `${this.tableName}#${sha256}`;
    const hit = options.fresh ? undefined : decoded.get(cacheKey);
    if (hit) return hit;
    const item = await this.getItem(keys.bundle(sha256), `reading bundle ${sha256}`);
    if (!item) return undefined;
    let bundle: Bundle;
    try {
      const manifest = { parts: manifestParts(item.parts, sha256), body: binary(item, sha256) };
      bundle = await readBundleBody(sha256, manifest, async (index) => {
        const part = await this.getItem(
          keys.bundlePart(sha256, index),
          `reading part ${index} of bundle ${sha256}`,
        );
        if (!part) throw new StoredItemInvalidError(`bundle ${sha256}: part ${index} is missing`);
        return binary(part, `${sha256} part ${index}`);
      });
    } catch (cause) {
      if (cause instanceof StateError) throw cause;
      throw new StoredItemInvalidError(`bundle ${sha256}: ${errorMessage(cause)}`, { cause });
    }
    if (decoded.size >= DECODED_MAX) decoded.delete(decoded.keys().next().value as string);
    decoded.set(cacheKey, bundle);
    return bundle;
  }

  private async getItem(
    key: { pk: string; sk: string },
    doing: string,
  ): Promise<Record<string, unknown> | undefined> {
    try {
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key }));
      return out.Item;
    } catch (error) {
      throw storeError(doing, error);
    }
  }
}

const PART_CONCURRENCY = 4;

/** The bundle's items; past BUNDLE_MAX_PARTS a BundleTooLargeStateError (this unit's error). */
function encodeItems(bundle: Bundle): ReturnType<typeof encodeBundleItems> {
  try {
    return encodeBundleItems(bundle);
  } catch (cause) {
    if (cause instanceof BundleTooLargeError) {
      throw new BundleTooLargeStateError(cause.message, { cause });
    }
    throw cause;
  }
}

function binary(item: Record<string, unknown>, what: string): Uint8Array {
  const body = item[BUNDLE_BODY_ATTRIBUTE];
  if (!(body instanceof Uint8Array)) {
    throw new StoredItemInvalidError(`bundle ${what}: body is not binary`);
  }
  return body;
}
