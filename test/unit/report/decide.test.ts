import { describe, expect, it } from 'vitest';
import { reportFingerprint, shouldWrite } from '../../../agent/report/decide';
import { report, slot } from './fixtures';

const RATE = { minWriteMs: 1000, heartbeatMs: 5000 };

describe('shouldWrite (bounded, coalesced report writes)', () => {
  it('writes the first report at once', () => {
    expect(shouldWrite({}, 'f', 0, RATE)).toBe(true);
  });

  it('writes a changed report once minWriteMs passed, not before', () => {
    // Prepare
    const clock = { lastWriteAt: 10_000, lastAttemptAt: 10_000, lastFingerprint: 'a' };
    // Act / Assess
    expect(shouldWrite(clock, 'b', 10_500, RATE)).toBe(false);
    expect(shouldWrite(clock, 'b', 11_000, RATE)).toBe(true);
  });

  it('does not write an unchanged report before the heartbeat, and does at it', () => {
    const clock = { lastWriteAt: 10_000, lastAttemptAt: 10_000, lastFingerprint: 'a' };
    expect(shouldWrite(clock, 'a', 14_999, RATE)).toBe(false);
    expect(shouldWrite(clock, 'a', 15_000, RATE)).toBe(true);
  });

  it('retries a failed write at the bounded rate only', () => {
    // Prepare: the last success is old, the last attempt (failed) recent
    const clock = { lastWriteAt: 0, lastAttemptAt: 20_000, lastFingerprint: 'a' };
    // Assess
    expect(shouldWrite(clock, 'b', 20_999, RATE)).toBe(false);
    expect(shouldWrite(clock, 'b', 21_000, RATE)).toBe(true);
  });

  it('bounds the rate to one write per minWriteMs however often states flap', () => {
    // Prepare: a state that changes at every 100 ms sample for 10 s
    const clock: { lastWriteAt?: number; lastAttemptAt?: number; lastFingerprint?: string } = {};
    let writes = 0;
    // Act
    for (let t = 0; t < 10_000; t += 100) {
      const fingerprint = String(t);
      if (shouldWrite(clock, fingerprint, t, RATE)) {
        writes++;
        Object.assign(clock, { lastWriteAt: t, lastAttemptAt: t, lastFingerprint: fingerprint });
      }
    }
    // Assess
    expect(writes).toBe(10);
  });
});

describe('reportFingerprint', () => {
  it('changes with a state, not with sessions, check counters, pools or the time', () => {
    const base = report();
    const busier = report({
      reportedAt: 2_000_000,
      clusters: [
        {
          clusterId: 'orders',
          backend: 'aurora-orders',
          slots: [
            slot({ sessions: 40, checkFailures: 9 }),
            slot({ slot: 'r02', instanceId: 'orders-2' }),
          ],
        },
      ],
    });
    const down = report({
      clusters: [
        {
          clusterId: 'orders',
          backend: 'aurora-orders',
          slots: [slot({ state: 'DOWN' }), slot({ slot: 'r02', instanceId: 'orders-2' })],
        },
      ],
    });
    expect(reportFingerprint(busier)).toBe(reportFingerprint(base));
    expect(reportFingerprint(down)).not.toBe(reportFingerprint(base));
    expect(reportFingerprint(report({ appliedSha256: 'b'.repeat(64) }))).not.toBe(
      reportFingerprint(base),
    );
  });
});
