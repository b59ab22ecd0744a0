import { gunzipSync, gzipSync } from 'node:zlib';
import { type Bundle, BundleIntegrityError, parseBundle } from './bundle';
import { keys } from './table';

/**
 * How a bundle is stored in the table (written by reconcile, read by every agent):
 * gzip(JSON bundle) cut into parts of at most BUNDLE_PART_BYTES, all in the bundle's own
 * partition BUNDLE#<sha>:
 * - the manifest { pk: BUNDLE#<sha>, sk: BUNDLE, sha256, createdAt, parts, body: part 0 },
 * - parts 1..n-1 as { pk: BUNDLE#<sha>, sk: PART#0001.., sha256, index, body }.
 * A bundle whose gzip fits one part is one item, as before parts existed (`parts` absent
 * reads as 1). DynamoDB's item limit is 400 KB: a gzipped bundle passes it near 1,100 to
 * 1,200 clusters x 15 readers, so one item alone wedged every reconcile there.
 *
 * Why parts in the table, not S3: the hosts keep exactly the permission they had (GetItem on
 * partitions BUNDLE#* and DESIRED; a part is in its bundle's partition), no bucket, policy
 * or lifecycle to add, and DynamoDB Local runs every path in the tests. Parts are written
 * before the manifest, so a reader that finds the manifest finds every part; the content is
 * addressed by its sha and verified whole after reassembly, so a missing, stale or foreign
 * part can only fail the read, never apply something else.
 */
export const BUNDLE_BODY_ATTRIBUTE = 'body';

/** Bytes of gzip per item: the 400 KB item limit minus room for keys and attribute names. */
export const BUNDLE_PART_BYTES = 380_000;

/**
 * Most parts a bundle may have (about 15 MB of gzip). The admin API refuses the cluster that
 * would take the registry past the published ceiling (docs/BENCHMARKS.md), far below this.
 */
export const BUNDLE_MAX_PARTS = 40;

export interface BundleItem {
  pk: string;
  sk: string;
  sha256: string;
  createdAt: string;
  /** How many parts the body has, this item's included. */
  parts: number;
  body: Uint8Array;
}

export interface BundlePartItem {
  pk: string;
  sk: string;
  sha256: string;
  index: number;
  body: Uint8Array;
}

export class BundleTooLargeError extends Error {
  override readonly name = 'BundleTooLargeError';
}

/** The manifest and the further parts (write the parts first). Throws BundleTooLargeError. */
export function encodeBundleItems(bundle: Bundle): {
  manifest: BundleItem;
  parts: BundlePartItem[];
} {
  const gzip = gzipSync(Buffer.from(JSON.stringify(bundle), 'utf8'));
  const count = Math.max(1, Math.ceil(gzip.length / BUNDLE_PART_BYTES));
  if (count > BUNDLE_MAX_PARTS) {
    throw new BundleTooLargeError(
      `bundle ${bundle.sha256} is ${gzip.length} bytes gzipped: more than ${BUNDLE_MAX_PARTS} parts of ${BUNDLE_PART_BYTES} bytes`,
    );
  }
  const slice = (i: number) => gzip.subarray(i * BUNDLE_PART_BYTES, (i + 1) * BUNDLE_PART_BYTES);
  return {
    manifest: {
      ...keys.bundle(bundle.sha256),
      sha256: bundle.sha256,
      createdAt: bundle.createdAt,
      parts: count,
      body: slice(0),
    },
    parts: Array.from({ length: count - 1 }, (_, k) => ({
      ...keys.bundlePart(bundle.sha256, k + 1),
      sha256: bundle.sha256,
      index: k + 1,
      body: slice(k + 1),
    })),
  };
}

/** The single item of a bundle that fits one part (tests and tools). */
export function encodeBundleItem(bundle: Bundle): BundleItem {
  const { manifest, parts } = encodeBundleItems(bundle);
  if (parts.length > 0) {
    throw new BundleTooLargeError(`bundle ${bundle.sha256} needs ${parts.length + 1} parts`);
  }
  return manifest;
}

/**
 * How many parts a manifest announces (absent: 1, the layout before parts). Anything else
 * than an integer in 1..BUNDLE_MAX_PARTS throws BundleIntegrityError.
 */
export function manifestParts(value: unknown, sha256: string): number {
  if (value === undefined) return 1;
  const parts = typeof value === 'string' ? Number(value) : value;
  if (
    typeof parts !== 'number' ||
    !Number.isInteger(parts) ||
    parts < 1 ||
    parts > BUNDLE_MAX_PARTS
  ) {
    throw new BundleIntegrityError(`bundle ${sha256}: manifest announces ${String(value)} parts`);
  }
  return parts;
}

/**
 * Reads a stored bundle: the manifest's body, then parts 1..n-1 through `readPart` (at most
 * `concurrency` at a time), reassembled, gunzipped, and verified (shape + sha). Throws
 * BundleIntegrityError for a bad body; readPart's own errors pass through.
 */
export async function readBundleBody(
  sha256: string,
  manifest: { parts: number; body: Uint8Array },
  readPart: (index: number) => Promise<Uint8Array>,
  concurrency = 4,
): Promise<Bundle> {
  const bodies: Uint8Array[] = [manifest.body];
  for (let next = 1; next < manifest.parts; next += concurrency) {
    const batch = Array.from(
      { length: Math.min(concurrency, manifest.parts - next) },
      (_, k) => next + k,
    );
    bodies.push(...(await Promise.all(batch.map(readPart))));
  }
  return decodeBundleBody(Buffer.concat(bodies), sha256);
}

/** Decode and verify (shape + sha) a whole gzip body. Throws BundleIntegrityError. */
export function decodeBundleBody(body: Uint8Array, expectedSha256: string): Bundle {
  let json: string;
  try {
    json = gunzipSync(body).toString('utf8');
  } catch (cause) {
    throw new BundleIntegrityError(`bundle ${expectedSha256}: body is not complete gzip`, {
      cause,
    });
  }
  return parseBundle(json, expectedSha256);
}

/** The desired-state pointer item: { pk: DESIRED, sk: STATE, sha256, version, updatedAt }. */
export interface DesiredStateItem {
  sha256: string;
  /** Incremented on every change; writes are conditional on the version read (CAS). */
  version: number;
  updatedAt: string;
}
