import { describe, expect, it } from 'vitest';
import { recordRefusal, refusalBackoffMs, refusalDecision } from '../../../../agent/apply/refusal';

const SHA = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const AT = new Date('2026-01-01T00:00:00.000Z');
const later = (ms: number) => new Date(AT.getTime() + ms);

describe('refused bundles are not reloaded every tick', () => {
  it('backs off 1, 2, 4 ... minutes per refusal, at most 30', () => {
    // Act + Assess
    expect([1, 2, 3, 4, 5, 6, 7].map(refusalBackoffMs)).toEqual([
      60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000,
    ]);
  });

  it('goes ahead for another sha, --force, or no refusal', () => {
    // Prepare
    const refused = recordRefusal(undefined, SHA, 'x', AT);
    // Act + Assess
    expect(refusalDecision(refused, OTHER, later(1_000))).toEqual({ kind: 'go' });
    expect(refusalDecision(refused, SHA, later(1_000), true)).toEqual({ kind: 'go' });
    expect(refusalDecision(undefined, SHA, later(1_000))).toEqual({ kind: 'go' });
  });

  it('asks a trial start first for the same sha, however long ago it was refused', () => {
    // Prepare
    const refused = recordRefusal(undefined, SHA, 'cannot bind socket', AT);
    // Act + Assess
    expect(refused).toMatchObject({ count: 1 });
    expect(refused.trialPassed).toBeUndefined();
    expect(refusalDecision(refused, SHA, later(1_000))).toEqual({ kind: 'trial', refused });
    expect(refusalDecision(refused, SHA, later(3_600_000))).toEqual({ kind: 'trial', refused });
  });

  it('holds without trials for the backoff when a reload was refused after a passing trial', () => {
    // Prepare
    const first = recordRefusal(undefined, SHA, 'x', AT);
    const second = recordRefusal(first, SHA, 'limit reached', later(10_000), true);
    // Act
    const inside = refusalDecision(second, SHA, later(10_000 + 119_000));
    const after = refusalDecision(second, SHA, later(10_000 + 120_000));
    // Assess
    expect(second).toMatchObject({ count: 2, reason: 'limit reached', trialPassed: true });
    expect(inside.kind).toBe('hold');
    expect(inside.kind === 'hold' && inside.error).toMatch(
      /refused this bundle at reload 2 time\(s\).*limit reached.*not reloaded again before 2026-01-01T00:02:10.000Z.*nothing changed$/,
    );
    expect(after).toEqual({ kind: 'go' });
  });

  it('restarts the count for another sha', () => {
    // Act
    const other = recordRefusal(recordRefusal(undefined, SHA, 'x', AT), OTHER, 'z', later(1));
    // Assess
    expect(other).toMatchObject({ sha256: OTHER, count: 1 });
  });
});
