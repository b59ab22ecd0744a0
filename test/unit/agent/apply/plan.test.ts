import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { describe, expect, it } from 'vitest';
import { planApply } from '../../../../agent/apply/plan';
import { recordRefusal } from '../../../../agent/apply/refusal';
import { installedInclude } from '../../../../agent/pgbouncer/host-include';
import { type AgentState, EMPTY_STATE } from '../../../../agent/state/state-store';
import { bundleOf, cluster } from './fixtures';

const HOST = { listenAddress: '127.0.0.1' };
const NOW = new Date('2026-01-01T00:00:00.000Z');
const R1 = { id: 'r1', address: '10.0.0.1', port: 5432 };
const R2 = { id: 'r2', address: '10.0.0.2', port: 5432 };

/** The files on disk when `bundle` is what runs. */
function liveOf(bundle: Bundle) {
  return { haproxy: bundle.files.haproxy, pgbouncer: installedInclude(bundle, HOST) };
}

function plan(applied: Bundle | undefined, next: Bundle, state: AgentState = EMPTY_STATE) {
  const live = applied ? liveOf(applied) : { haproxy: undefined, pgbouncer: undefined };
  return planApply({ applied, next, state, live, host: HOST, now: NOW, force: undefined });
}

describe('planApply: what an apply will do, before anything changes', () => {
  it('is unchanged for the applied bundle', () => {
    // Prepare
    const applied = bundleOf([R1]);
    // Act + Assess
    expect(plan(applied, applied)).toMatchObject({
      kind: 'unchanged',
      decision: { path: 'unchanged' },
    });
  });

  it('changes at runtime for a membership change, keeping the loaded include', () => {
    // Prepare
    const applied = bundleOf([R1]);
    const next = bundleOf([R1, R2], { previous: applied });
    // Act
    const result = plan(applied, next);
    // Assess
    expect(result).toMatchObject({
      kind: 'change',
      decision: { path: 'runtime' },
      pgbouncerReload: { reload: false },
      refusal: { kind: 'go' },
    });
  });

  it('reloads everything when the last apply was interrupted', () => {
    // Prepare
    const applied = bundleOf([R1]);
    const next = bundleOf([R1, R2], { previous: applied });
    const state: AgentState = {
      appliedSha256: applied.sha256,
      inProgress: { sha256: next.sha256, startedAt: NOW.toISOString(), pid: 1 },
    };
    // Act
    const result = plan(applied, next, state);
    // Assess
    expect(result).toMatchObject({
      kind: 'change',
      decision: { path: 'reload' },
      pgbouncerReload: { reload: true },
    });
  });

  it('refuses, changing nothing, a bundle whose include PgBouncer would stop at', () => {
    // Prepare
    const next = bundleOf([R1], { registry: cluster() });
    const tampered: Bundle = {
      ...next,
      files: {
        ...next.files,
        pgbouncerDatabases: `pgbouncer = host=127.0.0.1 port=1\n${next.files.pgbouncerDatabases}`,
      },
    };
    // Act
    const result = plan(undefined, tampered);
    // Assess
    expect(result.kind).toBe('refused');
    expect(result.kind === 'refused' && result.error).toMatch(
      /include is refused.*nothing changed/,
    );
  });

  it('refuses a config that would terminate or originate TLS', () => {
    // Prepare
    const next = bundleOf([R1]);
    const tampered: Bundle = {
      ...next,
      files: { ...next.files, haproxy: `${next.files.haproxy}    server x 10.0.0.7:5432 ssl\n` },
    };
    // Act
    const result = plan(undefined, tampered);
    // Assess
    expect(result.kind === 'refused' && result.error).toMatch(/terminate or originate TLS/);
  });

  it('holds a bundle HAProxy refused within its backoff, and asks a trial start after it', () => {
    // Prepare
    const next = bundleOf([R1]);
    const refused = recordRefusal(undefined, next.sha256, 'cannot bind socket', NOW);
    const state: AgentState = { appliedSha256: null, refused };
    // Act
    const first = plan(undefined, next, state);
    // Assess
    expect(first.kind === 'change' && first.refusal.kind).toBe('trial');
    const held = planApply({
      applied: undefined,
      next,
      state: { ...state, refused: { ...refused, trialPassed: true } },
      live: { haproxy: undefined, pgbouncer: undefined },
      host: HOST,
      now: NOW,
      force: undefined,
    });
    expect(held.kind).toBe('refused');
  });
});
