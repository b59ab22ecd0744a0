import { describe, expect, it } from 'vitest';
import { pushCommand } from '../../../../agent/health/runtime-push';

describe('pushCommand', () => {
  it.each([
    [{ checkMode: 'external', pass: false }, 'set server aurora-orders/r01 health down'],
    [{ checkMode: 'external', pass: true }, 'set server aurora-orders/r01 health up'],
    [{ checkMode: 'agent', pass: false }, 'set server aurora-orders/r01 health down'],
    [
      { checkMode: 'agent', pass: false, pushTarget: 'agent-check' },
      'set server aurora-orders/r01 agent down',
    ],
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
});
