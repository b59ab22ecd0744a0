import { describe, expect, it } from 'vitest';
import { recordRefusal, refusalBackoffMs, refusalHold } from '../../../../agent/apply/refusal';

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

  it('holds the same sha inside its backoff, with the reason and the retry time', () => {
    // Prepare
    const refused = recordRefusal(
      undefined,
      SHA,
      'cannot bind socket (Address already in use)',
      AT,
    );
    // Act
    const held = refusalHold(refused, SHA, later(59_000));
    // Assess
    expect(refused.count).toBe(1);
    expect(held).toMatch(/refused this bundle at reload 1 time\(s\).*Address already in use/);
    expect(held).toMatch(/not reloading again before 2026-01-01T00:01:00.000Z/);
    expect(held).toMatch(/nothing changed$/);
  });

  it('lets through another sha, --force, and the same sha once its backoff ran out', () => {
    // Prepare
    const refused = recordRefusal(undefined, SHA, 'x', AT);
    // Act + Assess
    expect(refusalHold(refused, OTHER, later(1_000))).toBeUndefined();
    expect(refusalHold(refused, SHA, later(1_000), true)).toBeUndefined();
    expect(refusalHold(refused, SHA, later(60_000))).toBeUndefined();
    expect(refusalHold(undefined, SHA, later(1_000))).toBeUndefined();
  });

  it('counts repeated refusals of one sha and restarts the count for another', () => {
    // Prepare
    const first = recordRefusal(undefined, SHA, 'x', AT);
    // Act
    const second = recordRefusal(first, SHA, 'y', later(60_000));
    const other = recordRefusal(second, OTHER, 'z', later(120_000));
    // Assess
    expect(second).toMatchObject({ count: 2, reason: 'y' });
    expect(refusalHold(second, SHA, later(60_000 + 119_000))).toBeDefined();
    expect(other).toMatchObject({ sha256: OTHER, count: 1 });
  });
});
