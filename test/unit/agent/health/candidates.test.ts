import { describe, expect, it } from 'vitest';
import { EMPTY_INDEX, indexBundle, type SlotTarget } from '../../../../agent/health/bundle-index';
import {
  candidatesAt,
  decideSlotVerdict,
  indexPending,
  slotCandidates,
} from '../../../../agent/health/candidates';
import type { ProbeResult } from '../../../../agent/health/verdict';
import { mergePendingSlots } from '../../../../agent/state/pending-slots';
import { bundleOf } from '../apply/fixtures';

const NOW = 1_700_000_000_000;
const A = { id: 'db-a', address: '10.0.0.1', port: 5432 };
const W = { id: 'db-w', address: '10.0.0.9', port: 5432 };
const replica: ProbeResult = { connected: true, inRecovery: true, lagMs: 0, observedAt: NOW - 100 };
const writer: ProbeResult = { connected: true, inRecovery: false, observedAt: NOW - 50 };

/** r01 applied at A, pending at W (the RDS view lags a promotion: W is in fact the writer). */
function moving(): SlotTarget[] {
  const applied = indexBundle(bundleOf([A]));
  const pending = indexPending(mergePendingSlots(undefined, bundleOf([W])));
  return slotCandidates(applied, pending).get('aurora-orders/r01') ?? [];
}

describe('slot candidates', () => {
  it('are the applied server plus each pending one, once per server and role', () => {
    // Prepare
    const applied = indexBundle(bundleOf([A]));
    // Act
    const same = slotCandidates(applied, indexPending(mergePendingSlots(undefined, bundleOf([A]))));
    const none = slotCandidates(applied, undefined);
    // Assess
    expect(moving().map((t) => t.serverKey)).toEqual(['10.0.0.1:5432', '10.0.0.9:5432']);
    expect(same.get('aurora-orders/r01')).toHaveLength(1);
    expect(none.get('aurora-orders/r01')).toHaveLength(1);
    expect(slotCandidates(EMPTY_INDEX, undefined).size).toBe(0);
  });
});

describe('decideSlotVerdict: a slot passes only when every server it may be at passes', () => {
  it('passes when all candidates are replicas', () => {
    // Act
    const { verdict } = decideSlotVerdict(moving(), () => replica, NOW, 1500);
    // Assess
    expect(verdict.pass).toBe(true);
  });

  it('fails, names the server, and flags the writer when one candidate is the writer', () => {
    // Act
    const { verdict, anyResult } = decideSlotVerdict(
      moving(),
      (key) => (key === '10.0.0.9:5432' ? writer : replica),
      NOW,
      1500,
    );
    // Assess
    expect(verdict).toMatchObject({ pass: false, writerInReaderSlot: true });
    expect(verdict.reason).toMatch(/^10\.0\.0\.9:5432 is the writer/);
    expect(anyResult).toBe(true);
  });

  it('fails while a candidate has no probe result yet (fail closed), and says whether any has one', () => {
    // Act
    const partial = decideSlotVerdict(
      moving(),
      (k) => (k === '10.0.0.1:5432' ? replica : undefined),
      NOW,
      1500,
    );
    const nothing = decideSlotVerdict(moving(), () => undefined, NOW, 1500);
    // Assess
    expect(partial.verdict.pass).toBe(false);
    expect(partial.verdict.reason).toMatch(/10\.0\.0\.9:5432 unknown/);
    expect(nothing).toMatchObject({ anyResult: false, verdict: { pass: false } });
  });

  it('fails a slot with no candidate', () => {
    expect(decideSlotVerdict([], () => replica, NOW, 1500).verdict).toMatchObject({
      pass: false,
      reason: 'unknown slot: not in the applied bundle',
    });
  });
});

describe('candidatesAt: the server an external check is about', () => {
  it('matches address and port exactly; a DNS name matches on the port', () => {
    // Prepare
    const dns = { ...(moving()[0] as SlotTarget), address: 'db-a.abc.eu-west-1.rds.amazonaws.com' };
    // Act / Assess
    expect(candidatesAt(moving(), '10.0.0.9', 5432).map((c) => c.instanceId)).toEqual(['db-w']);
    expect(candidatesAt(moving(), '10.0.0.9', 6543)).toEqual([]);
    expect(candidatesAt(moving(), '10.0.0.5', 5432)).toEqual([]);
    expect(candidatesAt([dns], '10.1.2.3', 5432)).toHaveLength(1);
  });
});
