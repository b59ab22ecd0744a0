import { describe, expect, it } from 'vitest';
import type { SlotTarget } from '../../../../agent/health/bundle-index';
import { candidatesAt } from '../../../../agent/health/candidates';
import { answerCheckRequest, type VerdictSource } from '../../../../agent/health/check-protocol';
import type { SlotVerdict } from '../../../../agent/health/health-monitor';

const NOW = 1_700_000_000_000;

function target(slot: string, address: string, port: number): SlotTarget {
  return {
    backend: 'aurora-orders',
    slot,
    clusterId: 'orders',
    instanceId: `db-${slot}`,
    address,
    port,
    role: 'reader',
    checkMode: 'external',
    options: { fallbackToWriter: false },
    serverKey: `${address}:${port}`,
  };
}

/** A verdict source with r01 passing, r02 failing, an Aurora-style DNS name in r03. */
function source(): VerdictSource {
  const verdicts = new Map<string, SlotVerdict>([
    [
      'aurora-orders/r01',
      {
        key: 'aurora-orders/r01',
        target: target('r01', '10.0.0.1', 5432),
        verdict: { pass: true, reason: 'replica', weightPercent: 100 },
        ageMs: 120,
      },
    ],
    [
      'aurora-orders/r02',
      {
        key: 'aurora-orders/r02',
        target: target('r02', '10.0.0.2', 5432),
        verdict: { pass: false, reason: 'is the writer' },
        ageMs: 80,
      },
    ],
    [
      'aurora-orders/r03',
      {
        key: 'aurora-orders/r03',
        target: target('r03', 'db-3.abc.eu-west-1.rds.amazonaws.com', 5432),
        verdict: { pass: true, reason: 'replica', weightPercent: 100 },
        ageMs: 50,
      },
    ],
  ]);
  const verdictFor = (key: string): SlotVerdict =>
    verdicts.get(key) ?? {
      key,
      verdict: { pass: false, reason: 'unknown slot: not in the applied bundle' },
    };
  return {
    sha256: 'a'.repeat(64),
    verdictFor,
    // One candidate per slot here (the monitor's own verdictAt is tested with the monitor).
    verdictAt: (key, address, port) => {
      const found = verdictFor(key);
      if (!found.target || candidatesAt([found.target], address, port).length > 0) return found;
      return {
        key,
        verdict: {
          pass: false,
          reason: `HAProxy checks ${address}:${port}, not a server of slot ${key}`,
        },
      };
    },
    snapshot: () => [...verdicts.values()],
  };
}

describe('check protocol: the <backend>/<slot> line (agent mode tcp-check, agent-check)', () => {
  it.each([
    ['aurora-orders/r01', 'up'],
    ['aurora-orders/r01\r', 'up'],
    ['aurora-orders/r02', 'down #is the writer'],
    ['aurora-orders/r09', 'down #unknown slot: not in the applied bundle'],
  ])('%j -> %j', (line, expected) => {
    // Act
    const reply = answerCheckRequest(line, source(), NOW);

    // Assess
    expect(reply).toBe(expected);
  });

  it.each([
    '',
    'up',
    'aurora-orders/r01 extra',
    'aurora orders/r01',
    '../etc/passwd',
    'a/b/c',
    'ready',
  ])('answers %j with down #bad request, never up', (line) => {
    // Act
    const reply = answerCheckRequest(line, source(), NOW);

    // Assess
    expect(reply).toMatch(/^down #bad request/);
    expect(reply).not.toMatch(/\n/);
  });
});

describe('check protocol: postgresqlchk requests', () => {
  it.each([
    ['check aurora-orders/r01 10.0.0.1 5432', /^pass replica$/],
    ['check aurora-orders/r02 10.0.0.2 5432', /^fail is the writer$/],
    ['check aurora-orders/r09 192.0.2.1 5432', /^fail unknown slot/],
    [
      'check aurora-orders/r01 10.0.0.1 6543',
      /^fail HAProxy checks 10.0.0.1:6543, not a server of/,
    ],
    [
      'check aurora-orders/r01 10.0.0.9 5432',
      /^fail HAProxy checks 10.0.0.9:5432, not a server of/,
    ],
    // A DNS name in the bundle: HAProxy passes the resolved IP, which cannot be compared.
    ['check aurora-orders/r03 10.1.2.3 5432', /^pass replica$/],
    ['check aurora-orders/r01 10.0.0.1', /^fail bad request/],
    ['check aurora-orders/r01 10.0.0.1 5432 x', /^fail bad request/],
    ['check aurora-orders/r01 not-an-ip 5432', /^fail bad request: invalid server address/],
    ['check aurora-orders/r01 10.0.0.1 0', /^fail bad request: invalid server port/],
    ['check aurora-orders/r01 10.0.0.1 65536', /^fail bad request: invalid server port/],
    ['check aurora orders 10.0.0.1 5432', /^fail bad request/],
  ])('%j', (line, expected) => {
    // Act
    const reply = answerCheckRequest(line, source(), NOW);

    // Assess
    expect(reply).toMatch(expected);
  });
});

describe('check protocol: status', () => {
  it('returns every slot with its verdict and age as one JSON line', () => {
    // Act
    const reply = answerCheckRequest('status', source(), NOW);

    // Assess
    expect(reply).not.toMatch(/\n/);
    const status = JSON.parse(reply);
    expect(status.sha256).toBe('a'.repeat(64));
    expect(status.slots).toHaveLength(3);
    expect(status.slots[1]).toMatchObject({
      slot: 'aurora-orders/r02',
      pass: false,
      reason: 'is the writer',
      ageMs: 80,
      address: '10.0.0.2',
    });
  });
});
