import type { z } from 'zod';

/**
 * Values a contract schema produced in this process, so a later consumer can skip parsing
 * them again. The render re-validates every registry cluster and topology it is given
 * (defence in depth), but on a reconcile both were parsed moments before by the store and
 * the topology reader (functions/registry/item.ts, functions/topology/map.ts,
 * functions/state/topology-cache.ts): parsing them twice was most of the render's time at
 * 500 clusters (docs/BENCHMARKS.md figure 7). A marked value is deep-frozen, so what was
 * checked is what is used: mutating it later throws instead of slipping past the check.
 * Anything unmarked (a copy, a spread, a value built by hand) is still parsed in full.
 */
const marks = new WeakMap<object, z.ZodType>();

export function markParsed<T>(schema: z.ZodType, value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  deepFreeze(value);
  marks.set(value, schema);
  return value;
}

export function wasParsedBy(schema: z.ZodType, value: unknown): boolean {
  return typeof value === 'object' && value !== null && marks.get(value) === schema;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
  return value;
}
