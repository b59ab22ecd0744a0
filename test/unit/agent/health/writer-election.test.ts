import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../../../agent/health/verdict';
import {
  electWriter,
  memberVerdict,
  type WriterMember,
} from '../../../../agent/health/writer-election';

const NOW = 1_700_000_000_000;
const FRESH = 1500;

const primary = (timeline?: number): ProbeResult => ({
  connected: true,
  inRecovery: false,
  observedAt: NOW - 100,
  ...(timeline === undefined ? {} : { timeline }),
});
const replica: ProbeResult = { connected: true, inRecovery: true, lagMs: 0, observedAt: NOW - 100 };
const auroraWriter: ProbeResult = {
  connected: true,
  inRecovery: false,
  isAuroraWriter: true,
  observedAt: NOW - 100,
};
const auroraReplica: ProbeResult = {
  connected: true,
  inRecovery: true,
  isAuroraWriter: false,
  observedAt: NOW - 100,
};
const down: ProbeResult = { connected: false, error: 'ECONNREFUSED', observedAt: NOW - 100 };
const stalePrimary: ProbeResult = { ...primary(2), observedAt: NOW - FRESH - 1 };

const m = (serverKey: string, probe: ProbeResult | undefined, rdsWriter = false): WriterMember => ({
  serverKey,
  probe,
  rdsWriter,
});

interface Case {
  name: string;
  members: WriterMember[];
  writer: string | undefined;
  reason: RegExp;
}

const cases: Case[] = [
  {
    name: 'one primary among replicas',
    members: [m('a:1', primary(1), true), m('b:1', replica), m('c:1', replica)],
    writer: 'a:1',
    reason: /^writer$/,
  },
  {
    name: 'promotion seen before RDS: the promoted replica, whatever RDS still says',
    members: [m('a:1', down, true), m('b:1', primary(2)), m('c:1', replica)],
    writer: 'b:1',
    reason: /^writer$/,
  },
  {
    name: 'failover gap: old writer down, replica not promoted yet',
    members: [m('a:1', down, true), m('b:1', replica), m('c:1', replica)],
    writer: undefined,
    reason: /no member claims/,
  },
  {
    name: 'no probe result yet',
    members: [m('a:1', undefined, true), m('b:1', undefined)],
    writer: undefined,
    reason: /no member claims/,
  },
  {
    name: 'a stale primary does not claim',
    members: [m('a:1', stalePrimary, true), m('b:1', replica)],
    writer: undefined,
    reason: /no member claims/,
  },
  {
    name: 'split brain: the highest timeline wins over the one RDS names',
    members: [m('a:1', primary(1), true), m('b:1', primary(2)), m('c:1', replica)],
    writer: 'b:1',
    reason: /highest timeline 2 of 2/,
  },
  {
    name: 'split brain, equal timelines: the one RDS names',
    members: [m('a:1', primary(2), true), m('b:1', primary(2))],
    writer: 'a:1',
    reason: /RDS names/,
  },
  {
    name: 'split brain on Aurora (no timeline): the one RDS names',
    members: [m('a:1', auroraWriter), m('b:1', auroraWriter, true), m('c:1', auroraReplica)],
    writer: 'b:1',
    reason: /RDS names/,
  },
  {
    name: 'split brain, a timeline unknown, RDS names neither: nobody',
    members: [m('a:1', primary(3)), m('b:1', primary())],
    writer: undefined,
    reason: /2 members claim the writer, no tie-break \(a:1, b:1\)/,
  },
  {
    name: 'split brain, RDS names both: nobody',
    members: [m('a:1', auroraWriter, true), m('b:1', auroraWriter, true)],
    writer: undefined,
    reason: /no tie-break/,
  },
  {
    name: 'Aurora: its own row decides, not pg_is_in_recovery',
    members: [
      m('a:1', { ...auroraReplica, inRecovery: false }),
      m('b:1', { ...auroraWriter, inRecovery: true }),
    ],
    writer: 'b:1',
    reason: /^writer$/,
  },
  {
    name: 'a role-less answer does not claim',
    members: [m('a:1', { connected: true, observedAt: NOW - 100 }, true), m('b:1', replica)],
    writer: undefined,
    reason: /no member claims/,
  },
  {
    name: 'one server in two slots (an apply) is one claimant; RDS names it if either slot does',
    members: [m('a:1', primary(1)), m('a:1', primary(1), true), m('b:1', primary(1))],
    writer: 'a:1',
    reason: /RDS names/,
  },
];

describe('electWriter', () => {
  it.each(cases)('$name', ({ members, writer, reason }) => {
    // Act
    const election = electWriter(members, NOW, FRESH);

    // Assess
    expect(election.writer).toBe(writer);
    expect(election.reason).toMatch(reason);
  });

  it('never elects more than one, whatever the members say', () => {
    // Prepare: every combination of 3 members over 5 probe shapes and RDS flags
    const shapes = [primary(1), primary(2), replica, down, auroraWriter];
    let combinations = 0;
    for (const a of shapes)
      for (const b of shapes)
        for (const c of shapes)
          for (const flags of [0, 1, 2, 3, 4, 5, 6, 7]) {
            const members = [
              m('a:1', a, (flags & 1) !== 0),
              m('b:1', b, (flags & 2) !== 0),
              m('c:1', c, (flags & 4) !== 0),
            ];
            // Act
            const election = electWriter(members, NOW, FRESH);
            const passing = members.filter(
              (x) => memberVerdict(x.serverKey, x.probe, election, NOW, FRESH).pass,
            );
            // Assess
            expect(passing.length).toBeLessThanOrEqual(1);
            if (passing[0]) expect(election.claimants).toContain(passing[0].serverKey);
            combinations++;
          }
    expect(combinations).toBe(1000);
  });
});

describe('memberVerdict', () => {
  it('passes only the elected writer; a losing claimant ends its sessions', () => {
    // Prepare
    const members = [m('a:1', primary(1), true), m('b:1', primary(2)), m('c:1', replica)];
    const election = electWriter(members, NOW, FRESH);

    // Act
    const [a, b, c] = members.map((x) => memberVerdict(x.serverKey, x.probe, election, NOW, FRESH));

    // Assess
    expect(b).toMatchObject({ pass: true });
    expect(a).toMatchObject({ pass: false, lostWriterElection: true });
    expect(a?.reason).toMatch(/claims the writer but lost the writer election to b:1/);
    expect(c).toEqual({ pass: false, reason: 'not the writer: replica' });
  });

  it.each([
    { probe: undefined, reason: 'not the writer: no probe result yet' },
    { probe: down, reason: 'not the writer: unreachable: ECONNREFUSED' },
    { probe: stalePrimary, reason: `not the writer: stale: last probe ${FRESH + 1} ms ago` },
  ])('fails a non-claimant with what it is: $reason', ({ probe, reason }) => {
    // Prepare
    const election = electWriter([m('x:1', probe), m('w:1', primary(1))], NOW, FRESH);

    // Act
    const verdict = memberVerdict('x:1', probe, election, NOW, FRESH);

    // Assess
    expect(verdict).toEqual({ pass: false, reason });
  });
});
