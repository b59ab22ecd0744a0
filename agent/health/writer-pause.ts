/**
 * Holding a writer endpoint's clients in PgBouncer during a failover (pure decision).
 *
 * Between the old writer's loss and the new one's election no slot of the writer listener
 * passes: HAProxy closes PgBouncer's server logins at once, and after one failed login
 * PgBouncer fails every client that asks for a server while the pool is empty ("server
 * login has been failing, try again later", whatever query_wait_timeout says). So while no
 * writer is elected the daemon PAUSEs the alias in PgBouncer (clients wait, no login is
 * tried) and RESUMEs it once the new writer's slot is UP. The decision is here; the
 * commands are sent by writer-pause-adapter.ts.
 *
 * State per alias, as this daemon last set it:
 * - unknown: the daemon just started (a previous daemon may have been killed mid-PAUSE);
 * - running: not paused by us;
 * - paused (since, the bundle it was paused under);
 * - released: resumed after `maxPauseMs` without a writer; no new PAUSE until a writer is
 *   elected again (clients get PgBouncer's own errors instead of waiting forever).
 *
 * Pass conditions (first match wins):
 * | # | alias in the applied bundle | state             | condition                                    | action | next     |
 * |---|-----------------------------|-------------------|----------------------------------------------|--------|----------|
 * | 1 | no (removed, renamed)       | unknown or paused |                                              | resume | forgotten|
 * | 2 | no                          | running, released |                                              | none   | forgotten|
 * | 3 | yes                         | unknown           | informed and no slot UP                      | pause  | paused   |
 * | 4 | yes                         | unknown           | otherwise (daemon start: RESUME every alias) | resume | running  |
 * | 5 | yes                         | running           | informed and no slot UP                      | pause  | paused   |
 * | 6 | yes                         | paused            | a writer elected and its slot UP             | resume | running  |
 * | 7 | yes                         | paused            | paused for maxPauseMs or longer              | resume | released |
 * | 8 | yes                         | paused            | the applied bundle changed (PgBouncer RELOADed it) | pause (again, idempotent) | paused, same since |
 * | 9 | yes                         | released          | a writer elected                             | none   | running  |
 * | 10| otherwise                   |                   |                                              | none   | same     |
 *
 * "No slot UP": no writer elected, or the elected writer's slot does not pass (during an apply
 * a slot passes only when every server it may be at is the writer): either way PgBouncer's
 * logins fail and it would fast-fail clients. "Informed": every member of the listener has a
 * probe result (at daemon start nothing is
 * known yet, so nothing is paused on no information). "Two claim the writer": the election
 * (writer-election.ts) elects one by timeline or RDS, and the endpoint is not paused; when it
 * cannot decide, nobody is elected and the alias is paused like any gap (bounded by row 7).
 */
export type PauseState =
  | { kind: 'unknown' }
  | { kind: 'running' }
  | { kind: 'paused'; since: number; bundleSha: string | null }
  | { kind: 'released'; at: number };

export interface WriterEndpointView {
  alias: string;
  /** Every member of the listener has a probe result. */
  informed: boolean;
  /** The election names a writer. */
  elected: boolean;
  /** A slot of the listener passes (only the elected writer's can), its UP pushed. */
  writerUp: boolean;
}

export type PauseAction = 'pause' | 'resume' | 'none';

export interface PauseDecision {
  action: PauseAction;
  /** undefined: forget the alias (no longer in the bundle). */
  next: PauseState | undefined;
  /** The table row that matched, for logs and tests. */
  row: number;
  reason: string;
}

export function decideWriterPause(
  view: WriterEndpointView | undefined,
  state: PauseState,
  now: number,
  maxPauseMs: number,
  bundleSha: string | null,
): PauseDecision {
  if (view === undefined) {
    if (state.kind === 'unknown' || state.kind === 'paused') {
      return { action: 'resume', next: undefined, row: 1, reason: 'alias left the bundle' };
    }
    return { action: 'none', next: undefined, row: 2, reason: 'alias left the bundle' };
  }
  const gap = view.informed && !view.writerUp;
  switch (state.kind) {
    case 'unknown':
      if (gap) return pause(3, now, bundleSha, 'no writer slot UP (daemon start)');
      return { action: 'resume', next: { kind: 'running' }, row: 4, reason: 'daemon start' };
    case 'running':
      if (gap)
        return pause(
          5,
          now,
          bundleSha,
          view.elected ? 'the writer slot is not UP' : 'no writer elected',
        );
      return same(state);
    case 'paused': {
      if (view.elected && view.writerUp) {
        return {
          action: 'resume',
          next: { kind: 'running' },
          row: 6,
          reason: `writer elected and UP after ${now - state.since} ms`,
        };
      }
      if (now - state.since >= maxPauseMs) {
        return {
          action: 'resume',
          next: { kind: 'released', at: now },
          row: 7,
          reason: `no writer for ${now - state.since} ms (bound ${maxPauseMs} ms): clients get PgBouncer's errors`,
        };
      }
      if (state.bundleSha !== bundleSha) {
        return {
          action: 'pause',
          next: { ...state, bundleSha },
          row: 8,
          reason: 'bundle changed while paused: PAUSE again',
        };
      }
      return same(state);
    }
    case 'released':
      if (view.elected) {
        return { action: 'none', next: { kind: 'running' }, row: 9, reason: 'writer elected' };
      }
      return same(state);
  }
}

function pause(row: number, now: number, bundleSha: string | null, reason: string): PauseDecision {
  return { action: 'pause', next: { kind: 'paused', since: now, bundleSha }, row, reason };
}

function same(state: PauseState): PauseDecision {
  return { action: 'none', next: state, row: 10, reason: 'no change' };
}
