import { gunzipSync, gzipSync } from 'node:zlib';
import { type Bundle, parseBundle } from './bundle';
import { keys } from './table';

/**
 * How a bundle is stored in the table (written by reconcile, read by every agent):
 * item { pk: BUNDLE#<sha>, sk: BUNDLE, sha256, createdAt, body: Binary gzip(JSON bundle) }.
 * gzip keeps large fleets' configs well under DynamoDB's 400 KB item limit.
 */
export const BUNDLE_BODY_ATTRIBUTE = 'body';

export interface BundleItem {
  pk: string;
  sk: string;
  sha256: string;
  createdAt: string;
  body: Uint8Array;
}

export function encodeBundleItem(bundle: Bundle): BundleItem {
  return {
    ...keys.bundle(bundle.sha256),
    sha256: bundle.sha256,
    createdAt: bundle.createdAt,
    body: gzipSync(Buffer.from(JSON.stringify(bundle), 'utf8')),
  };
}

/** Decode and verify (shape + sha) a stored bundle body. Throws BundleIntegrityError. */
export function decodeBundleBody(body: Uint8Array, expectedSha256: string): Bundle {
  return parseBundle(gunzipSync(body).toString('utf8'), expectedSha256);
}

/** The desired-state pointer item: { pk: DESIRED, sk: STATE, sha256, version, updatedAt }. */
export interface DesiredStateItem {
  sha256: string;
  /** Incremented on every change; writes are conditional on the version read (CAS). */
  version: number;
  updatedAt: string;
}
