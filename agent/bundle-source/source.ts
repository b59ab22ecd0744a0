import type { Bundle } from '@aurora-haproxy/contract/bundle';
import type { DesiredStateItem } from '@aurora-haproxy/contract/bundle-item';

/** Where the agent reads bundles (verified against the requested sha) and the desired pointer. */
export interface BundleSource {
  /** The bundle with this sha256, shape and content hash verified; throws otherwise. */
  getBundle(sha256: string): Promise<Bundle>;
  /** The desired pointer (for `sync` at boot). */
  getDesired(): Promise<DesiredStateItem>;
}
