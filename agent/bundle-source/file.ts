import { readFile } from 'node:fs/promises';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { parseBundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { BundleSourceError } from './errors';

/** A bundle JSON file (local use, tests): parsed and verified against the requested sha. */
export async function readBundleFile(path: string, expectedSha256: string): Promise<Bundle> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new BundleSourceError(`cannot read bundle file ${path}: ${errorMessage(cause)}`, {
      cause,
    });
  }
  return parseBundle(text, expectedSha256);
}
