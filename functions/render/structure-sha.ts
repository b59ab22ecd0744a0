import { sha256OfPieces } from '@aurora-haproxy/contract/canonical-json';

/**
 * The bundle's structureSha256: sha256 of the global sections followed by every cluster's
 * structure (its listen section with every slot spare). A tick that moves readers leaves
 * every structure as it was, so the last pieces and their sha are kept: the same pieces
 * again, string by string, give the same sha without hashing the megabyte again (1-2 ms a
 * tick at 500 clusters, docs/BENCHMARKS.md figure 7). Exact: equal strings in the same order
 * are the same bytes.
 */
let last: { pieces: readonly string[]; sha: string } | undefined;

export function structureSha256(pieces: readonly string[]): string {
  if (last !== undefined && samePieces(last.pieces, pieces)) return last.sha;
  const sha = sha256OfPieces(pieces);
  last = { pieces, sha };
  return sha;
}

function samePieces(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
