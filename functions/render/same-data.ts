/**
 * Whether two values are the same plain data (pure): the same object, or
 * - primitives equal by Object.is;
 * - arrays of the same length whose items are the same plain data, in order;
 * - plain objects (prototype Object.prototype or null) with the same own enumerable keys in
 *   the same order, each value the same plain data.
 * Anything else (a Date, a Map, a class instance, an array against an object) is the same only
 * when it is the same object. So two values this returns true for give the same
 * JSON.stringify, and any pure function that reads their properties gives the same result.
 *
 * | a                         | b                          | same  |
 * |---------------------------|----------------------------|-------|
 * | {x: 1, y: [2]}            | {x: 1, y: [2]} (a copy)    | true  |
 * | {x: 1, y: 2}              | {y: 2, x: 1}               | false |
 * | {x: undefined}            | {}                         | false |
 * | [1, 2]                    | [1, 2, 3]                  | false |
 * | new Date(0)               | new Date(0) (another)      | false |
 * | NaN                       | NaN                        | true  |
 * | 0                         | -0                         | false |
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameItem(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || !isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  const otherKeys = Object.keys(b);
  if (keys.length !== otherKeys.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key !== otherKeys[i]) return false;
    if (!sameItem((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) {
      return false;
    }
  }
  return true;
}

/** sameData without a call for the primitives most members are (the render's hot path). */
function sameItem(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  return typeof a === 'object' && typeof b === 'object' && sameData(a, b);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
