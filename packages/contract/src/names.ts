/**
 * The HAProxy names the orchestrator renders and the agent addresses at runtime, defined once.
 * A cluster is one backend (a `listen` section) named `aurora-<clusterId>`; its servers are
 * slots: reader slots r01..rNN (NN = the cluster's readerSlots, at most 99) and, only with
 * fallbackToWriter, the writer's backup slot w1. A cluster with a writer endpoint has a second
 * listener `aurora-<clusterId>_writer` with member slots m01..mNN.
 */

/** HAProxy backend (listen section) name of a cluster; the prefix keeps it apart from `stats`. */
export function backendName(clusterId: string): string {
  return `aurora-${clusterId}`;
}

/**
 * The in-zone backend of a cluster (AZ affinity, az-affinity.ts). `_` never occurs in a
 * cluster id (RDS identifier rules), so this name cannot be another cluster's backend.
 */
export function azBackendName(backend: string): string {
  return `${backend}_az`;
}

/** Backend names a bundle may carry. */
export const BACKEND_NAME = /^[a-z][a-z0-9_-]{0,80}$/;

/** The writer's slot: a `backup` server, rendered only with fallbackToWriter. */
export const WRITER_SLOT = 'w1';

/** Reader slot names are two digits: r01..r99. */
export const MAX_READER_SLOTS = 99;

/**
 * HAProxy server (slot) names: reader slots r01..r99, the writer's backup slot w1, and the
 * writer endpoint's member slots m01..m99 (in its own listener).
 */
export const SLOT_NAME = /^(?:r\d{2}|w1|m\d{2})$/;

/** A writer endpoint's member slots: m01..m99. */
export const MEMBER_SLOT_NAME = /^m\d{2}$/;

/**
 * The writer endpoint's backend (options.writer). `_` never occurs in a cluster id, so this
 * name cannot be another cluster's backend (nor `<backend>_az`).
 */
export function writerBackendName(clusterId: string): string {
  return `${backendName(clusterId)}_writer`;
}

export function isWriterBackend(backend: string): boolean {
  return backend.endsWith('_writer');
}

export function memberSlotName(index: number): string {
  return `m${String(index).padStart(2, '0')}`;
}

/** 1..99 for a member slot name, undefined for anything else. */
export function memberSlotIndex(name: string): number | undefined {
  const match = /^m(\d{2})$/.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * r01..r99, made once: the same string objects in every render and plan keep their hash
 * (a map lookup per slot of every cluster, each tick).
 */
const READER_SLOT_NAMES = Array.from(
  { length: MAX_READER_SLOTS },
  (_, i) => `r${String(i + 1).padStart(2, '0')}`,
);

export function readerSlotName(index: number): string {
  return READER_SLOT_NAMES[index - 1] ?? `r${String(index).padStart(2, '0')}`;
}

/** 1..99 for a reader slot name, undefined for anything else. */
export function readerSlotIndex(name: string): number | undefined {
  const match = /^r(\d{2})$/.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Every slot of a backend, in config order: r01..rNN, then w1 with fallbackToWriter. Frozen
 * and made once per (readerSlots, fallbackToWriter) within 0..MAX_READER_SLOTS: the render,
 * the runtime plan and the daemon ask for it per cluster (twice per cluster per tick at 500
 * clusters was 8 % of the orchestrator's tick, docs/BENCHMARKS.md figure 7).
 */
export function slotNames(readerSlots: number, fallbackToWriter: boolean): readonly string[] {
  return listOnce(
    Number.isInteger(readerSlots) && readerSlots >= 0 && readerSlots <= MAX_READER_SLOTS
      ? readerSlots * 2 + (fallbackToWriter ? 1 : 0)
      : undefined,
    () => {
      const names = Array.from({ length: readerSlots }, (_, i) => readerSlotName(i + 1));
      if (fallbackToWriter) names.push(WRITER_SLOT);
      return names;
    },
  );
}

/** A writer endpoint's member slots m01..mNN, in config order; frozen, made once per count. */
export function memberSlotNames(slots: number): readonly string[] {
  return listOnce(
    Number.isInteger(slots) && slots >= 0 && slots <= MAX_READER_SLOTS ? -1 - slots : undefined,
    () => Array.from({ length: slots }, (_, i) => memberSlotName(i + 1)),
  );
}

/** Slot name lists by key (>= 0: reader slots, < 0: member slots); bounded by the keys' range. */
const slotLists = new Map<number, readonly string[]>();

function listOnce(key: number | undefined, make: () => string[]): readonly string[] {
  if (key === undefined) return Object.freeze(make());
  let list = slotLists.get(key);
  if (list === undefined) {
    list = Object.freeze(make());
    slotLists.set(key, list);
  }
  return list;
}

/**
 * `<backend>/<slot>`: one server as HAProxy names it (runtime API, `show servers state`) and
 * as the health daemon's check requests name it (agent-send, postgresqlchk).
 */
export function slotKey(backend: string, slot: string): string {
  return `${backend}/${slot}`;
}
