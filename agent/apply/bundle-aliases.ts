import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { pgbouncerEntries } from '@aurora-haproxy/contract/listeners';

/** The PgBouncer aliases of a bundle (reader and writer endpoints), those behind `which` backends. */
export function aliasesOf(
  bundle: Bundle,
  which: (backend: string) => boolean = () => true,
): string[] {
  return bundle.clusters
    .flatMap(pgbouncerEntries)
    .filter((e) => which(e.backend))
    .map((e) => e.alias);
}
