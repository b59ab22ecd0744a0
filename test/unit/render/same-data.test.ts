import { describe, expect, it } from 'vitest';
import { sameData } from '../../../functions/render/same-data';

/** The pass-condition table of functions/render/same-data.ts. */
describe('sameData', () => {
  const frozen = Object.freeze({ a: [1, { b: 'x' }] });
  const nullProto = Object.assign(Object.create(null), { x: 1 });
  it.each([
    [
      'a copy of nested plain data',
      { x: 1, y: [2, { z: 'a' }] },
      { x: 1, y: [2, { z: 'a' }] },
      true,
    ],
    ['the same object', frozen, frozen, true],
    ['a frozen value and its unfrozen copy', frozen, { a: [1, { b: 'x' }] }, true],
    ['null-prototype objects with the same data', nullProto, { x: 1 }, true],
    ['the same keys in another order', { x: 1, y: 2 }, { y: 2, x: 1 }, false],
    ['an undefined member against none', { x: undefined }, {}, false],
    ['a value changed deep down', { x: [{ y: 'a' }] }, { x: [{ y: 'b' }] }, false],
    ['arrays of different lengths', [1, 2], [1, 2, 3], false],
    ['an array against an object with its indexes', [1], { 0: 1 }, false],
    ['two equal Dates (not plain data)', new Date(0), new Date(0), false],
    ['two equal Maps (not plain data)', new Map([[1, 2]]), new Map([[1, 2]]), false],
    ['NaN and NaN', Number.NaN, Number.NaN, true],
    ['0 and -0', 0, -0, false],
    ['a number against its string', 1, '1', false],
    ['null against an object', null, {}, false],
    ['undefined and undefined', undefined, undefined, true],
  ])('%s -> %s', (_what, a, b, same) => {
    expect(sameData(a, b)).toBe(same);
    expect(sameData(b, a)).toBe(same);
  });
});
