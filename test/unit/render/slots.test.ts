import { describe, expect, it } from 'vitest';
import { SlotCapacityError } from '../../../functions/render/errors';
import { assignReaderSlots, readerSlotCapacity } from '../../../functions/render/slots';

describe('readerSlotCapacity', () => {
  it('starts at the next power of two >= readers + 2, at least 4', () => {
    expect(readerSlotCapacity(0)).toBe(4);
    expect(readerSlotCapacity(2)).toBe(4);
    expect(readerSlotCapacity(3)).toBe(8);
    expect(readerSlotCapacity(15)).toBe(32);
  });

  it('keeps the previous capacity while the readers fit, and never shrinks', () => {
    expect(readerSlotCapacity(4, 4)).toBe(4);
    expect(readerSlotCapacity(1, 16)).toBe(16);
  });

  it('grows when the readers no longer fit', () => {
    expect(readerSlotCapacity(5, 4)).toBe(8);
  });

  it('caps at 99 slots and rejects more readers than that', () => {
    expect(readerSlotCapacity(90)).toBe(99);
    expect(() => readerSlotCapacity(100)).toThrow(SlotCapacityError);
  });
});

describe('assignReaderSlots', () => {
  it('fills the lowest slots in instanceId order on the first render', () => {
    // Act
    const slots = assignReaderSlots(['c', 'a', 'b'], new Map(), 4);
    // Assess
    expect(Object.fromEntries(slots)).toEqual({ a: 'r01', b: 'r02', c: 'r03' });
  });

  it('keeps the slot of every reader that stays and gives new readers the lowest free slot', () => {
    // Prepare: a (r01) leaves, b stays in r02, d stays in r04
    const previous = new Map([
      ['a', 'r01'],
      ['b', 'r02'],
      ['d', 'r04'],
    ]);
    // Act
    const slots = assignReaderSlots(['d', 'b', 'e', 'f'], previous, 4);
    // Assess
    expect(Object.fromEntries(slots)).toEqual({ b: 'r02', d: 'r04', e: 'r01', f: 'r03' });
  });

  it('does not depend on the input order', () => {
    const previous = new Map([['x', 'r03']]);
    const one = assignReaderSlots(['x', 'y', 'z'], previous, 8);
    const two = assignReaderSlots(['z', 'y', 'x'], previous, 8);
    expect(Object.fromEntries(one)).toEqual(Object.fromEntries(two));
  });

  it('moves a reader whose previous slot is out of range and rejects overflow', () => {
    expect(Object.fromEntries(assignReaderSlots(['a'], new Map([['a', 'r09']]), 4))).toEqual({
      a: 'r01',
    });
    expect(() => assignReaderSlots(['a', 'b'], new Map(), 1)).toThrow(SlotCapacityError);
  });
});
