import {
  MAX_READER_SLOTS,
  memberSlotIndex,
  memberSlotName,
  readerSlotIndex,
  readerSlotName,
} from '@aurora-haproxy/contract/names';
import { SlotCapacityError } from './errors';

/**
 * Stable slot assignment for a cluster's reader servers (r01..rNN).
 *
 * Capacity (readerSlots, how many reader slots the backend renders):
 * - with a previous capacity that still holds every reader: keep it (never shrinks while
 *   the cluster stays registered: shrinking would change the structure, i.e. a reload, for
 *   no benefit);
 * - otherwise (first render, or more readers than slots): the next power of two >= readers+2
 *   (two spares for hitless adds), at least MIN_READER_SLOTS, at most MAX_READER_SLOTS.
 *   Growing changes the structure, so that render is applied with a reload.
 * Slots: a reader that was in the previous bundle keeps its slot; new readers, in instanceId
 * order, take the lowest free slots. A writer endpoint's member slots (m01..) follow the same
 * rules for every member of the cluster (prefix 'm').
 */
/** r: a reader listener's slots; m: a writer endpoint's member slots. */
export type SlotPrefix = 'r' | 'm';

const NAMING = {
  r: { name: readerSlotName, index: readerSlotIndex },
  m: { name: memberSlotName, index: memberSlotIndex },
} as const;

export const MIN_READER_SLOTS = 4;

export function readerSlotCapacity(readerCount: number, previousCapacity?: number): number {
  if (readerCount > MAX_READER_SLOTS) {
    throw new SlotCapacityError(
      `${readerCount} readers do not fit in the ${MAX_READER_SLOTS} reader slots a backend can have`,
    );
  }
  if (
    previousCapacity !== undefined &&
    previousCapacity >= readerCount &&
    previousCapacity <= MAX_READER_SLOTS
  ) {
    return previousCapacity;
  }
  let capacity = MIN_READER_SLOTS;
  while (capacity < readerCount + 2) capacity *= 2;
  return Math.min(capacity, MAX_READER_SLOTS);
}

/**
 * @param readerIds the readers to place (any order; the result does not depend on it)
 * @param previousSlots instanceId -> slot name from the previous bundle (readers only)
 * @returns instanceId -> slot name, every slot within 1..capacity, no slot twice
 */
export function assignReaderSlots(
  readerIds: readonly string[],
  previousSlots: ReadonlyMap<string, string>,
  capacity: number,
  prefix: SlotPrefix = 'r',
): Map<string, string> {
  const naming = NAMING[prefix];
  if (readerIds.length > capacity) {
    throw new SlotCapacityError(`${readerIds.length} readers do not fit in ${capacity} slots`);
  }
  const sorted = [...new Set(readerIds)].sort();
  const assigned = new Map<string, string>();
  const taken = new Set<number>();
  for (const id of sorted) {
    const previous = previousSlots.get(id);
    const index = previous === undefined ? undefined : naming.index(previous);
    if (index !== undefined && index >= 1 && index <= capacity && !taken.has(index)) {
      assigned.set(id, naming.name(index));
      taken.add(index);
    }
  }
  let next = 1;
  for (const id of sorted) {
    if (assigned.has(id)) continue;
    while (taken.has(next)) next++;
    assigned.set(id, naming.name(next));
    taken.add(next);
  }
  return assigned;
}
