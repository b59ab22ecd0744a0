import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Bundle } from '../contracts/bundle';
import { decodeBundleBody, encodeBundleItem } from '../contracts/bundle-item';
import { keys } from '../contracts/table';
import { isConditionalCheckFailed } from '../shared/aws-errors';
import { documentClient, storeError } from './document-client';
import { StoredItemInvalidError } from './errors';

/**
 * Bundles, content-addressed by sha256 (item layout in contracts/bundle-item.ts). A put is
 * conditional on the key being absent, so storing the same bundle twice is a harmless no-op
 * and a stored bundle is never overwritten.
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

  /** 'stored' when this call wrote it, 'existed' when it was already there. */
  async put(bundle: Bundle): Promise<'stored' | 'existed'> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: encodeBundleItem(bundle),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'stored';
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'existed';
      throw storeError(`storing bundle ${bundle.sha256}`, error);
    }
  }

  /**
   * Store a bundle over whatever item its key holds: only for an item that does not read
   * back as this sha (corrupted or missing). Safe: the content is verified against its sha.
   */
  async replace(bundle: Bundle): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: encodeBundleItem(bundle) }),
      );
    } catch (error) {
      throw storeError(`storing bundle ${bundle.sha256} again`, error);
    }
  }

  /** The bundle with this sha, verified; undefined when absent. */
  async get(sha256: string): Promise<Bundle | undefined> {
    const cacheKey = `${this.tableName}#${sha256}`;
    const hit = decoded.get(cacheKey);
    if (hit) return hit;
    let item: Record<string, unknown> | undefined;
    try {
      const out = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: keys.bundle(sha256) }),
      );
      item = out.Item;
    } catch (error) {
      throw storeError(`reading bundle ${sha256}`, error);
    }
    if (!item) return undefined;
    const body = item.body;
    if (!(body instanceof Uint8Array)) {
      throw new StoredItemInvalidError(`bundle ${sha256}: body is not binary`);
    }
    let bundle: Bundle;
    try {
      bundle = decodeBundleBody(body, sha256);
    } catch (cause) {
      throw new StoredItemInvalidError(`bundle ${sha256}: ${(cause as Error).message}`, { cause });
    }
    if (decoded.size >= DECODED_MAX) decoded.delete(decoded.keys().next().value as string);
    decoded.set(cacheKey, bundle);
    return bundle;
  }
}
