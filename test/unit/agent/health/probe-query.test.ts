import { describe, expect, it } from 'vitest';
import { readProbeRow } from '../../../../agent/health/probe-query';

describe('readProbeRow', () => {
  it.each([
    [
      'a caught-up vanilla replica',
      { in_recovery: true, lag_ms: 0 },
      false,
      { inRecovery: true, lagMs: 0, isAuroraWriter: undefined },
    ],
    [
      'a vanilla primary',
      { in_recovery: false, lag_ms: null },
      false,
      { inRecovery: false, lagMs: undefined },
    ],
    [
      'negative lag (clock skew) counts as caught up',
      { in_recovery: true, lag_ms: -15 },
      false,
      { lagMs: 0 },
    ],
    [
      'an Aurora writer',
      { in_recovery: false, is_writer: true, lag_ms: 0 },
      true,
      { isAuroraWriter: true },
    ],
    [
      'an Aurora reader with lag',
      { in_recovery: true, is_writer: false, lag_ms: 17 },
      true,
      { isAuroraWriter: false, lagMs: 17 },
    ],
    [
      'a vanilla primary with its timeline (int8 comes as text)',
      { in_recovery: false, lag_ms: null, timeline: '3' },
      false,
      { inRecovery: false, timeline: 3 },
    ],
    [
      'a timeline that is not a positive integer is unknown',
      { in_recovery: false, lag_ms: null, timeline: '0x' },
      false,
      { timeline: undefined },
    ],
    [
      'an Aurora instance missing from aurora_replica_status()',
      { in_recovery: true, is_writer: null, lag_ms: null },
      true,
      { isAuroraWriter: undefined, lagMs: undefined },
    ],
  ] as const)('%s', (_name, row, aurora, expected) => {
    // Act
    const result = readProbeRow(row, aurora);

    // Assess
    expect(result).toMatchObject({ connected: true, ...expected });
  });
});
