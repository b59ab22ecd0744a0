import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level: equal values give equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/**
 * canonicalJson of a deep-frozen value, serialized once per object: the render keeps an
 * unchanged cluster's object from one reconcile to the next, and the bundle's sha256 is taken
 * over every cluster (megabytes at 500 clusters). Frozen, the value cannot have changed since.
 * Anything not frozen is serialized every time.
 */
const frozenJson = new WeakMap<object, string>();

export function canonicalJsonOnce(value: unknown): string {
  if (typeof value !== 'object' || value === null || !Object.isFrozen(value)) {
    return canonicalJson(value);
  }
  let json = frozenJson.get(value);
  if (json === undefined) {
    json = canonicalJson(value);
    frozenJson.set(value, json);
  }
  return json;
}

/**
 * The canonical JSON of an object whose members are given already serialized (canonical
 * JSON each, undefined = absent): the same bytes canonicalJson gives for the whole object.
 */
export function canonicalObjectJson(members: Record<string, string | undefined>): string {
  return canonicalObjectPieces(
    Object.fromEntries(
      Object.entries(members).map(([key, json]) => [key, json === undefined ? undefined : [json]]),
    ),
  ).join('');
}

/**
 * canonicalObjectJson with each member given as pieces whose concatenation is its canonical
 * JSON, returned as pieces: hashing them one by one (sha256OfPieces) hashes the same bytes
 * without building a multi-megabyte string.
 */
export function canonicalObjectPieces(
  members: Record<string, readonly string[] | undefined>,
): string[] {
  // The key order of the object sortKeys builds, integer-like keys first as JS orders them.
  const order = sortKeys(
    Object.fromEntries(
      Object.keys(members).map((key) => [key, members[key] === undefined ? undefined : 0]),
    ),
  ) as Record<string, unknown>;
  const pieces = ['{'];
  Object.keys(order).forEach((key, i) => {
    pieces.push(`${i === 0 ? '' : ','}${JSON.stringify(key)}:`, ...(members[key] as string[]));
  });
  pieces.push('}');
  return pieces;
}

/** The canonical JSON of an array whose items are given already serialized. */
export function canonicalArrayJson(items: readonly string[]): string {
  return canonicalArrayPieces(items).join('');
}

/** canonicalArrayJson as pieces. */
export function canonicalArrayPieces(items: readonly string[]): string[] {
  const pieces = ['['];
  items.forEach((item, i) => {
    if (i > 0) pieces.push(',');
    pieces.push(item);
  });
  pieces.push(']');
  return pieces;
}

/**
 * The JSON string literal of text given as pieces, as pieces: each piece escaped on its own
 * (jsonEscaped). Equal to JSON.stringify of the joined text as long as no piece boundary
 * splits a UTF-16 surrogate pair (JSON.stringify escapes a lone surrogate); the rendered
 * config is ASCII, and its pieces are whole sections.
 */
export function jsonStringPieces(escaped: readonly string[]): string[] {
  return ['"', ...escaped, '"'];
}

/** The JSON string literal of `text` without its quotes. */
export function jsonEscaped(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/** sha256 of the concatenation of `pieces`, hashed one by one. */
export function sha256OfPieces(pieces: Iterable<string>): string {
  const hash = createHash('sha256');
  for (const piece of pieces) hash.update(piece);
  return hash.digest('hex');
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}
