import { describe, expect, it } from 'vitest';
import {
  isServableStatus,
  SERVABLE_INSTANCE_STATUSES,
  selectMembers,
  UNSERVABLE_INSTANCE_STATUSES,
} from '../../../functions/render/server-selection';
import { member } from './fixtures';

const noOptions = { excludeInstances: [], fallbackToWriter: false };

describe('selectMembers', () => {
  it('returns readers sorted by instanceId and never the writer without fallbackToWriter', () => {
    // Prepare
    const members = [
      member('b', '10.0.0.2'),
      member('w', '10.0.0.1', { isWriter: true }),
      member('a', '10.0.0.3'),
    ];
    // Act
    const selected = selectMembers(members, noOptions);
    // Assess
    expect(selected.readers.map((m) => m.instanceId)).toEqual(['a', 'b']);
    expect(selected.writer).toBeUndefined();
  });

  it('drops excluded instances and statuses that cannot serve', () => {
    // Prepare
    const members = [
      member('ok', '10.0.0.2'),
      member('analytics', '10.0.0.3'),
      member('new', '10.0.0.4', { status: 'creating' }),
      member('gone', '10.0.0.5', { status: 'deleting' }),
      member('odd', '10.0.0.6', { status: 'some-future-status' }),
      member('busy', '10.0.0.7', { status: 'modifying' }),
    ];
    // Act
    const selected = selectMembers(members, { ...noOptions, excludeInstances: ['analytics'] });
    // Assess
    expect(selected.readers.map((m) => m.instanceId)).toEqual(['busy', 'ok']);
  });

  it('offers the writer only with fallbackToWriter, and not when excluded or unservable', () => {
    // Prepare
    const writer = member('w', '10.0.0.1', { isWriter: true });
    const readers = [member('r', '10.0.0.2')];
    // Act
    const withFallback = selectMembers([writer, ...readers], {
      ...noOptions,
      fallbackToWriter: true,
    });
    const excluded = selectMembers([writer, ...readers], {
      excludeInstances: ['w'],
      fallbackToWriter: true,
    });
    const stopped = selectMembers([{ ...writer, status: 'stopped' }, ...readers], {
      ...noOptions,
      fallbackToWriter: true,
    });
    // Assess
    expect(withFallback.writer?.instanceId).toBe('w');
    expect(withFallback.readers.map((m) => m.instanceId)).toEqual(['r']);
    expect(excluded.writer).toBeUndefined();
    expect(stopped.writer).toBeUndefined();
  });

  it('offers no writer when two members claim to be the writer', () => {
    // Prepare
    const members = [
      member('w1', '10.0.0.1', { isWriter: true }),
      member('w2', '10.0.0.2', { isWriter: true }),
    ];
    // Act
    const selected = selectMembers(members, { ...noOptions, fallbackToWriter: true });
    // Assess
    expect(selected.writer).toBeUndefined();
    expect(selected.readers).toEqual([]);
  });
});

describe('servable statuses', () => {
  it('lists disjoint servable and unservable statuses', () => {
    // Prepare / Act
    const overlap = [...SERVABLE_INSTANCE_STATUSES].filter((s) =>
      UNSERVABLE_INSTANCE_STATUSES.has(s),
    );
    // Assess
    expect(overlap).toEqual([]);
    expect(isServableStatus('available')).toBe(true);
    expect(isServableStatus('rebooting')).toBe(true);
    for (const status of UNSERVABLE_INSTANCE_STATUSES) expect(isServableStatus(status)).toBe(false);
  });
});
