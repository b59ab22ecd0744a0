import { describe, expect, it } from 'vitest';
import {
  decideWriterPause,
  type PauseState,
  type WriterEndpointView,
} from '../../../../agent/health/writer-pause';

const NOW = 1_700_000_000_000;
const MAX = 30_000;
const SHA = 'a'.repeat(64);

const view = (v: Partial<WriterEndpointView>): WriterEndpointView => ({
  alias: 'orders_rw',
  informed: true,
  elected: true,
  writerUp: true,
  ...v,
});
const gap = view({ elected: false, writerUp: false });
const notProbed = view({ informed: false, elected: false, writerUp: false });
const paused = (since = NOW - 500, bundleSha: string | null = SHA): PauseState => ({
  kind: 'paused',
  since,
  bundleSha,
});

interface Case {
  name: string;
  view: WriterEndpointView | undefined;
  state: PauseState;
  action: 'pause' | 'resume' | 'none';
  next: PauseState | undefined;
  row: number;
}

// One case per row of the pass-condition table in writer-pause.ts, and the near misses.
const cases: Case[] = [
  {
    name: 'alias removed while paused: RESUME, forget',
    view: undefined,
    state: paused(),
    action: 'resume',
    next: undefined,
    row: 1,
  },
  {
    name: 'alias removed before the start RESUME: RESUME, forget',
    view: undefined,
    state: { kind: 'unknown' },
    action: 'resume',
    next: undefined,
    row: 1,
  },
  {
    name: 'alias removed while running: forget',
    view: undefined,
    state: { kind: 'running' },
    action: 'none',
    next: undefined,
    row: 2,
  },
  {
    name: 'daemon start during a gap: PAUSE at once',
    view: gap,
    state: { kind: 'unknown' },
    action: 'pause',
    next: paused(NOW),
    row: 3,
  },
  {
    name: 'daemon start, nothing probed yet: RESUME (a killed daemon may have left it paused)',
    view: notProbed,
    state: { kind: 'unknown' },
    action: 'resume',
    next: { kind: 'running' },
    row: 4,
  },
  {
    name: 'daemon start with a writer: RESUME',
    view: view({}),
    state: { kind: 'unknown' },
    action: 'resume',
    next: { kind: 'running' },
    row: 4,
  },
  {
    name: 'writer lost: PAUSE',
    view: gap,
    state: { kind: 'running' },
    action: 'pause',
    next: paused(NOW),
    row: 5,
  },
  {
    name: 'writer elected but its slot not UP (an apply in progress): PAUSE',
    view: view({ writerUp: false }),
    state: { kind: 'running' },
    action: 'pause',
    next: paused(NOW),
    row: 5,
  },
  {
    name: 'running, members not all probed (a member just added): no PAUSE',
    view: notProbed,
    state: { kind: 'running' },
    action: 'none',
    next: { kind: 'running' },
    row: 10,
  },
  {
    name: 'running with a writer: nothing',
    view: view({}),
    state: { kind: 'running' },
    action: 'none',
    next: { kind: 'running' },
    row: 10,
  },
  {
    name: 'new writer elected and its slot UP: RESUME',
    view: view({}),
    state: paused(),
    action: 'resume',
    next: { kind: 'running' },
    row: 6,
  },
  {
    name: 'new writer elected, its UP not pushed yet: stay paused',
    view: view({ writerUp: false }),
    state: paused(),
    action: 'none',
    next: paused(),
    row: 10,
  },
  {
    name: 'no writer for maxPauseMs: RESUME, released',
    view: gap,
    state: paused(NOW - MAX),
    action: 'resume',
    next: { kind: 'released', at: NOW },
    row: 7,
  },
  {
    name: 'no writer for 1 ms less than maxPauseMs: stay paused',
    view: gap,
    state: paused(NOW - MAX + 1),
    action: 'none',
    next: paused(NOW - MAX + 1),
    row: 10,
  },
  {
    name: 'bundle changed while paused (PgBouncer RELOADed): PAUSE again, same since',
    view: gap,
    state: paused(NOW - 500, 'b'.repeat(64)),
    action: 'pause',
    next: paused(NOW - 500, SHA),
    row: 8,
  },
  {
    name: 'released, still no writer: no new PAUSE',
    view: gap,
    state: { kind: 'released', at: NOW - 10 },
    action: 'none',
    next: { kind: 'released', at: NOW - 10 },
    row: 10,
  },
  {
    name: 'released, a writer elected again: running (the next gap pauses)',
    view: view({ writerUp: false }),
    state: { kind: 'released', at: NOW - 10 },
    action: 'none',
    next: { kind: 'running' },
    row: 9,
  },
];

describe('decideWriterPause: the pass-condition table', () => {
  it.each(cases)('$name', (c) => {
    // Prepare: the case. Act
    const decision = decideWriterPause(c.view, c.state, NOW, MAX, SHA);
    // Assess
    expect({ action: decision.action, next: decision.next, row: decision.row }).toEqual({
      action: c.action,
      next: c.next,
      row: c.row,
    });
    expect(decision.reason).not.toBe('');
  });

  it('a whole failover: running -> PAUSE at the gap -> held while the new writer is not UP -> RESUME', () => {
    // Prepare
    const steps: [WriterEndpointView, string][] = [
      [view({}), 'none'],
      [gap, 'pause'],
      [gap, 'none'],
      [view({ writerUp: false }), 'none'],
      [view({}), 'resume'],
      [view({}), 'none'],
    ];
    let state: PauseState = { kind: 'running' };
    const actions: string[] = [];
    // Act
    steps.forEach(([v], i) => {
      const d = decideWriterPause(v, state, NOW + i * 100, MAX, SHA);
      actions.push(d.action);
      state = d.next ?? { kind: 'unknown' };
    });
    // Assess
    expect(actions).toEqual(steps.map(([, a]) => a));
    expect(state).toEqual({ kind: 'running' });
  });
});
