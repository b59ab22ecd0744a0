import { describe, expect, it } from 'vitest';
import {
  decideVerdict,
  type ProbeResult,
  type SlotRole,
  type VerdictOptions,
} from '../../../../agent/health/verdict';

const NOW = 1_700_000_000_000;
const FRESH = 1500;
const replica: ProbeResult = {
  connected: true,
  inRecovery: true,
  lagMs: 20,
  observedAt: NOW - 100,
};
const writer: ProbeResult = { connected: true, inRecovery: false, observedAt: NOW - 100 };
const noFallback: VerdictOptions = { fallbackToWriter: false };
const withFallback: VerdictOptions = { fallbackToWriter: true };

interface Case {
  name: string;
  probe: ProbeResult | undefined;
  slot: SlotRole;
  options: VerdictOptions;
  pass: boolean;
  reason: RegExp;
}

const cases: Case[] = [
  {
    name: 'a connected replica in a reader slot',
    probe: replica,
    slot: 'reader',
    options: noFallback,
    pass: true,
    reason: /replica/,
  },
  {
    name: 'the writer in a reader slot (promotion)',
    probe: writer,
    slot: 'reader',
    options: withFallback,
    pass: false,
    reason: /is the writer/,
  },
  {
    name: 'an Aurora writer even if in recovery reads true',
    probe: { ...replica, isAuroraWriter: true },
    slot: 'reader',
    options: noFallback,
    pass: false,
    reason: /is the writer/,
  },
  {
    name: 'an Aurora replica',
    probe: { ...replica, inRecovery: undefined, isAuroraWriter: false },
    slot: 'reader',
    options: noFallback,
    pass: true,
    reason: /replica/,
  },
  {
    name: 'no probe result yet',
    probe: undefined,
    slot: 'reader',
    options: noFallback,
    pass: false,
    reason: /unknown/,
  },
  {
    name: 'a stale result',
    probe: { ...replica, observedAt: NOW - FRESH - 1 },
    slot: 'reader',
    options: noFallback,
    pass: false,
    reason: /stale/,
  },
  {
    name: 'a result exactly at the freshness bound',
    probe: { ...replica, observedAt: NOW - FRESH },
    slot: 'reader',
    options: noFallback,
    pass: true,
    reason: /replica/,
  },
  {
    name: 'an unreachable server',
    probe: { connected: false, error: 'ECONNREFUSED', observedAt: NOW },
    slot: 'reader',
    options: noFallback,
    pass: false,
    reason: /unreachable: ECONNREFUSED/,
  },
  {
    name: 'a connected probe with no role',
    probe: { connected: true, observedAt: NOW },
    slot: 'reader',
    options: noFallback,
    pass: false,
    reason: /unknown/,
  },
  {
    name: 'lag within maxReplicaLagMs',
    probe: replica,
    slot: 'reader',
    options: { fallbackToWriter: false, maxReplicaLagMs: 20 },
    pass: true,
    reason: /lag 20 ms/,
  },
  {
    name: 'lag over maxReplicaLagMs',
    probe: { ...replica, lagMs: 21 },
    slot: 'reader',
    options: { fallbackToWriter: false, maxReplicaLagMs: 20 },
    pass: false,
    reason: /lag 21 ms > 20 ms/,
  },
  {
    name: 'unknown lag with maxReplicaLagMs set',
    probe: { ...replica, lagMs: undefined },
    slot: 'reader',
    options: { fallbackToWriter: false, maxReplicaLagMs: 20 },
    pass: false,
    reason: /lag unknown/,
  },
  {
    name: 'unknown lag without maxReplicaLagMs',
    probe: { ...replica, lagMs: undefined },
    slot: 'reader',
    options: noFallback,
    pass: true,
    reason: /replica/,
  },
  {
    name: 'the writer in its backup slot with fallbackToWriter',
    probe: writer,
    slot: 'writer',
    options: withFallback,
    pass: true,
    reason: /backup/,
  },
  {
    name: 'the writer in its backup slot without fallbackToWriter',
    probe: writer,
    slot: 'writer',
    options: noFallback,
    pass: false,
    reason: /without fallbackToWriter/,
  },
  {
    name: 'a demoted writer (now a lagging replica) in the backup slot',
    probe: { ...replica, lagMs: 5000 },
    slot: 'writer',
    options: { fallbackToWriter: true, maxReplicaLagMs: 100 },
    pass: false,
    reason: /lag 5000/,
  },
  {
    name: 'an unreachable writer in its backup slot',
    probe: { connected: false, observedAt: NOW },
    slot: 'writer',
    options: withFallback,
    pass: false,
    reason: /unreachable/,
  },
];

describe('decideVerdict', () => {
  it.each(cases)('$name -> pass=$pass', ({ probe, slot, options, pass, reason }) => {
    // Prepare: the case row

    // Act
    const verdict = decideVerdict(probe, slot, options, NOW, FRESH);

    // Assess
    expect(verdict.pass).toBe(pass);
    expect(verdict.reason).toMatch(reason);
    expect(verdict.weightPercent).toBe(pass ? 100 : undefined);
  });

  it('keeps reasons to one printable line', () => {
    // Prepare
    const probe: ProbeResult = { connected: false, error: 'boom\r\nup 100%', observedAt: NOW };

    // Act
    const verdict = decideVerdict(probe, 'reader', noFallback, NOW, FRESH);

    // Assess
    expect(verdict.reason).not.toMatch(/[\r\n]/);
  });

  it('flags only a writer in a reader slot for ending its sessions', () => {
    // Act
    const writerInReader = decideVerdict(writer, 'reader', noFallback, NOW, FRESH);
    const unreachable = decideVerdict(
      { connected: false, observedAt: NOW },
      'reader',
      noFallback,
      NOW,
      FRESH,
    );
    const lagging = decideVerdict(
      { ...replica, lagMs: 99 },
      'reader',
      { fallbackToWriter: false, maxReplicaLagMs: 10 },
      NOW,
      FRESH,
    );

    // Assess
    expect(writerInReader.writerInReaderSlot).toBe(true);
    expect(unreachable.writerInReaderSlot).toBeUndefined();
    expect(lagging.writerInReaderSlot).toBeUndefined();
  });
});
