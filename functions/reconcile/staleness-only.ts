import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { canonicalJson } from '@aurora-haproxy/contract/canonical-json';

/**
 * Do two bundles differ only in their clusters' `stale` flags? Pure.
 *
 * The flag records that a cluster's topology was the last known one when the bundle was
 * rendered; no host acts on it (HAProxy and PgBouncer files are identical). Publishing a
 * bundle for it alone would send an SSM command to the whole fleet each time the RDS API
 * starts or stops failing: a fault would cost a delivery. So such a bundle is not
 * published; `status` reports stale clusters from the topology cache instead.
 *
 * Pass conditions: true iff files, structure sha and every cluster field other than
 * `stale` are equal (canonical JSON), clusters in the same order.
 */
export function differsOnlyInStaleness(a: Bundle, b: Bundle): boolean {
  return canonicalJson(withoutStaleness(a)) === canonicalJson(withoutStaleness(b));
}

function withoutStaleness(bundle: Bundle) {
  return {
    schema: bundle.schema,
    structureSha256: bundle.structureSha256,
    files: bundle.files,
    clusters: bundle.clusters.map(({ stale: _stale, ...cluster }) => cluster),
  };
}
