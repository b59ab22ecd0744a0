import {
  MAX_READER_SLOTS,
  memberSlotNames,
  slotNames,
  WRITER_SLOT,
} from '@aurora-haproxy/contract/names';
import { describe, expect, it } from 'vitest';

/** Slot name lists are made once per size and shared: frozen, so no caller can change them. */
describe('slot name lists', () => {
  it.each([
    [0, false, []],
    [4, false, ['r01', 'r02', 'r03', 'r04']],
    [2, true, ['r01', 'r02', WRITER_SLOT]],
  ])('slotNames(%i, %s)', (slots, fallback, expected) => {
    expect(slotNames(slots, fallback)).toEqual(expected);
    expect(slotNames(slots, fallback)).toBe(slotNames(slots, fallback));
    expect(Object.isFrozen(slotNames(slots, fallback))).toBe(true);
  });

  it('gives r01..r99 at the maximum and member slots m01..mNN', () => {
    expect(slotNames(MAX_READER_SLOTS, false).at(-1)).toBe('r99');
    expect(memberSlotNames(3)).toEqual(['m01', 'm02', 'm03']);
    expect(memberSlotNames(3)).toBe(memberSlotNames(3));
    expect(slotNames(3, false)).not.toBe(memberSlotNames(3));
  });

  it('a shared list cannot be changed by a caller', () => {
    expect(() => (slotNames(4, false) as string[]).push('r05')).toThrow(TypeError);
    expect(slotNames(4, false)).toHaveLength(4);
  });
});
