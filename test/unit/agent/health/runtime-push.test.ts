import { describe, expect, it } from 'vitest';
import { pushCommand, pushCommands } from '../../../../agent/health/runtime-push';

describe('pushCommand', () => {
  it.each([
    [{ checkMode: 'external', pass: false }, 'set server aurora-orders/r01 health down'],
    [{ checkMode: 'external', pass: true }, 'set server aurora-orders/r01 health up'],
    [{ checkMode: 'agent', pass: false }, 'set server aurora-orders/r01 health down'],
  ] as const)('%j -> %s', (flip, expected) => {
    // Act
    const command = pushCommand({ backend: 'aurora-orders', slot: 'r01', reason: 'x', ...flip });

    // Assess
    expect(command).toBe(expected);
  });

  it('refuses names that could inject a second command', () => {
    // Act
    const push = () =>
      pushCommand({
        backend: 'b;shutdown',
        slot: 'r01',
        checkMode: 'external',
        pass: false,
        reason: 'x',
      });

    // Assess
    expect(push).toThrow(/invalid server name/);
  });

  it('ends the sessions of a writer found in a reader slot, after marking it down', () => {
    // Act
    const writer = pushCommands({
      backend: 'aurora-orders',
      slot: 'r01',
      checkMode: 'external',
      pass: false,
      reason: 'is the writer',
      shutdownSessions: true,
    });
    const lagging = pushCommands({
      backend: 'aurora-orders',
      slot: 'r01',
      checkMode: 'external',
      pass: false,
      reason: 'lag 900 ms > 500 ms',
    });
    const back = pushCommands({
      backend: 'aurora-orders',
      slot: 'r01',
      checkMode: 'external',
      pass: true,
      reason: 'replica',
      shutdownSessions: true,
    });

    // Assess
    expect(writer).toEqual([
      'set server aurora-orders/r01 health down',
      'shutdown sessions server aurora-orders/r01',
    ]);
    expect(lagging).toEqual(['set server aurora-orders/r01 health down']);
    expect(back).toEqual(['set server aurora-orders/r01 health up']);
  });
});
