import { describe, expect, it } from 'vitest';
import { decideApplyPath, decidePgbouncerReload } from '../../../../agent/apply/decide';
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

describe('decidePgbouncerReload', () => {
  it.each([
    ['the include on disk differs from next', false, true, false, true, true],
    ['no applied bundle, include on disk already next', true, false, false, false, true],
    ['interrupted apply: the file may be one PgBouncer never loaded', true, true, true, true, true],
    ['live files changed behind the agent', true, true, false, false, true],
    ['loaded and checked when the applied bundle was applied', true, true, false, true, false],
  ] as const)('%s -> reload %s', (_name, onDisk, applied, interrupted, filesMatch, reload) => {
    // Prepare / Act
    const decision = decidePgbouncerReload({
      includeOnDiskIsNext: onDisk,
      applied,
      interrupted,
      liveFilesMatchApplied: filesMatch,
    });
    // Assess
    expect(decision.reload).toBe(reload);
    expect(decision.reason).not.toBe('');
  });
});
