import { describe, expect, it } from 'vitest';
import { decideApplyPath } from '../../../../agent/apply/decide';
import { bundleOf, cluster } from './fixtures';

const A = { id: 'db-a', address: '10.0.0.1', port: 5432 };
const B = { id: 'db-b', address: '10.0.0.2', port: 5432 };

describe('decideApplyPath', () => {
  const one = bundleOf([A]);
  const two = bundleOf([A, B], { previous: one });
  const movedPort = bundleOf([A], { registry: cluster({ port: 16000 }), previous: one });

  it.each([
    ['no applied bundle', undefined, one, false, true, 'reload'],
    ['interrupted apply, even for the same sha', one, one, true, true, 'reload'],
    ['live files changed behind the agent', one, one, false, false, 'reload'],
    ['same sha', one, one, false, true, 'unchanged'],
    ['reader added into a spare slot', one, two, false, true, 'runtime'],
    ['reader removed', two, one, false, true, 'runtime'],
    ['cluster port changed', one, movedPort, false, true, 'reload'],
  ] as const)('%s -> %s', (_name, applied, next, interrupted, filesMatch, expected) => {
    // Prepare: bundles rendered by the real renderer
    // Act
    const decision = decideApplyPath({
      applied,
      next,
      interrupted,
      liveFilesMatchApplied: filesMatch,
    });
    // Assess
    expect(decision.path).toBe(expected);
    expect(decision.reason).not.toBe('');
  });

  it('sees a membership-only change as the same structure sha', () => {
    // Prepare / Act
    const [before, after] = [one, two];
    // Assess
    expect(before.structureSha256).toBe(after.structureSha256);
    expect(before.sha256).not.toBe(after.sha256);
  });
});
