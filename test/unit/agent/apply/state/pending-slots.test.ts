import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  candidatesOf,
  mergePendingSlots,
  parsePendingSlots,
  pendingSlotsPath,
  readPendingSlots,
  removePendingSlots,
  writePendingSlots,
} from '../../../../../agent/state/pending-slots';
import { bundleOf } from '../fixtures';

const A = { id: 'db-a', address: '10.0.0.1', port: 5432 };
const B = { id: 'db-b', address: '10.0.0.2', port: 5432 };
const C = { id: 'db-c', address: '10.0.0.3', port: 5432 };

describe('pending slot map', () => {
  it('lists every slot of a bundle with its server, role and check options', () => {
    // Prepare
    const bundle = bundleOf([A, B]);
    // Act
    const candidates = candidatesOf(bundle);
    // Assess
    expect(candidates.map((c) => [c.slot, c.address, c.role])).toEqual([
      ['r01', '10.0.0.1', 'reader'],
      ['r02', '10.0.0.2', 'reader'],
    ]);
    expect(candidates[0]).toMatchObject({ backend: 'aurora-orders', checkMode: 'agent' });
  });

  it('keeps every candidate of a map left by a killed apply when the next apply merges its bundle', () => {
    // Prepare: a killed apply was moving r02 from B to C; the next apply moves it to A's port
    const killed = mergePendingSlots(undefined, bundleOf([A, C]));
    const next = bundleOf([A, { ...B, port: 6543 }]);
    // Act
    const merged = mergePendingSlots(killed, next);
    // Assess
    expect(merged.sha256).toBe(next.sha256);
    const r02 = merged.candidates
      .filter((c) => c.slot === 'r02')
      .map((c) => `${c.address}:${c.port}`);
    expect(r02.sort()).toEqual(['10.0.0.2:6543', '10.0.0.3:5432']);
    for (const c of killed.candidates) expect(merged.candidates).toContainEqual(c);
    // r01 is the same server in both: listed once
    expect(merged.candidates.filter((c) => c.slot === 'r01')).toHaveLength(1);
  });

  it('refuses a map whose values could reach a config line or a protocol reply', () => {
    // Prepare
    const good = mergePendingSlots(undefined, bundleOf([A]));
    const bad = (patch: Record<string, unknown>) =>
      JSON.stringify({ ...good, candidates: [{ ...good.candidates[0], ...patch }] });
    // Act / Assess
    expect(() => parsePendingSlots(bad({ slot: 'r01\nserver x' }))).toThrow();
    expect(() => parsePendingSlots(bad({ address: '10.0.0.1 check' }))).toThrow();
    expect(() => parsePendingSlots(bad({ port: 0 }))).toThrow();
    expect(() => parsePendingSlots(bad({ role: 'primary' }))).toThrow();
    expect(() => parsePendingSlots(JSON.stringify({ ...good, sha256: 'x' }))).toThrow();
    expect(parsePendingSlots(JSON.stringify(good))).toEqual(good);
  });

  it('round-trips through the state dir; absent is undefined, unreadable throws, removal is idempotent', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'ah-pending-'));
    try {
      const map = mergePendingSlots(undefined, bundleOf([A]));
      // Act / Assess
      expect(readPendingSlots(dir)).toBeUndefined();
      writePendingSlots(dir, map);
      expect(readPendingSlots(dir)).toEqual(map);
      removePendingSlots(dir);
      removePendingSlots(dir);
      expect(readPendingSlots(dir)).toBeUndefined();
      writeFileSync(pendingSlotsPath(dir), '{"schema":1');
      expect(() => readPendingSlots(dir)).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
