import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../../../agent/status/format';
import { type AgentStatus, serverStatus } from '../../../../agent/status/status';
import { bundleOf, liveRow } from './fixtures';

const A = { id: 'db-a', address: '10.0.0.1', port: 5432 };

describe('status', () => {
  it('joins a live slot with its instance from the applied bundle', () => {
    // Prepare
    const bundle = bundleOf([A]);
    // Act
    const filled = serverStatus(
      liveRow('aurora-orders', { server: 'r01', ...A, admin: 0 }),
      bundle,
    );
    const spare = serverStatus(liveRow('aurora-orders', { server: 'r02', op: 0 }), bundle);
    // Assess
    expect(filled).toMatchObject({
      instanceId: 'db-a',
      role: 'reader',
      health: 'UP',
      admin: 'ready',
    });
    expect(spare).toMatchObject({ health: 'DOWN', admin: 'maint' });
    expect(spare.instanceId).toBeUndefined();
  });

  it('prints a header, the last result and one row per slot with the verdict', () => {
    // Prepare
    const status: AgentStatus = {
      appliedSha256: 'a'.repeat(64),
      lastResult: {
        ok: false,
        sha256: 'b'.repeat(64),
        action: 'rollback',
        durationMs: 812,
        error: 'reload failed',
        finishedAt: '2026-01-01T00:00:00.000Z',
      },
      haproxy: {
        reachable: true,
        servers: [
          {
            ...serverStatus(
              liveRow('aurora-orders', { server: 'r01', ...A, admin: 0 }),
              bundleOf([A]),
            ),
            verdict: { pass: true, reason: 'reader', ageMs: 120 },
          },
        ],
      },
      health: { reachable: true, sha256: 'a'.repeat(64) },
      refused: {
        sha256: 'c'.repeat(64),
        reason: 'cannot bind socket (Address already in use)',
        count: 2,
        at: '2026-01-01T00:00:00.000Z',
      },
      versions: { haproxy: '2.6.12-1+deb12u4', pgbouncer: '1.18.0' },
    };
    // Act
    const text = formatStatus(status);
    // Assess
    expect(text).toContain(`applied bundle: ${'a'.repeat(64)}`);
    expect(text).toContain('last apply:     FAILED rollback bbbbbbbbbbbb in 812 ms');
    expect(text).toContain('versions:       haproxy 2.6.12-1+deb12u4, pgbouncer 1.18.0');
    expect(text).toMatch(/refused: +cccccccccccc 2 time\(s\).*Address already in use/);
    expect(text).toMatch(
      /aurora-orders\s+r01\s+db-a\s+reader\s+10\.0\.0\.1:5432\s+UP\s+ready\s+100\s+pass reader \(120 ms\)/,
    );
  });

  it('says when HAProxy or the daemon cannot be reached', () => {
    // Prepare
    const status: AgentStatus = {
      appliedSha256: null,
      haproxy: { reachable: false, error: 'ENOENT', servers: [] },
      health: { reachable: false, error: 'connection refused' },
      versions: {},
    };
    // Act
    const text = formatStatus(status);
    // Assess
    expect(text).toContain('applied bundle: (none)');
    expect(text).toContain('haproxy:        unreachable (ENOENT)');
    expect(text).toContain('health daemon:  unreachable (connection refused)');
  });
});
