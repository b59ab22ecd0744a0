import { RecordingLog } from '@aurora-haproxy/test-support/recording';
import { describe, expect, it } from 'vitest';
import { nextPollDelay, versionAction } from '../../../../agent/secrets/decide';
import { SecretReadError } from '../../../../agent/secrets/errors';
import { parseProbeSecret } from '../../../../agent/secrets/probe-secret';
import type { SecretSource, SecretVersion } from '../../../../agent/secrets/source';
import { SecretWatcher } from '../../../../agent/secrets/watcher';

/** A secret whose current version the test sets; `fail` makes the next reads throw. */
function fakeSource(): SecretSource & { current: SecretVersion; fail?: string; reads: number } {
  const source = {
    secretId: 'aurora-haproxy/probe',
    current: { versionId: 'v1', text: '{"password":"one"}' } as SecretVersion,
    fail: undefined as string | undefined,
    reads: 0,
    async read() {
      source.reads++;
      if (source.fail) throw new SecretReadError(source.fail);
      return source.current;
    },
  };
  return source;
}

describe('secret version decisions', () => {
  it('applies a new version, keeps the one in use, and does not retry one refused for its format', () => {
    expect(versionAction({ appliedVersionId: null }, 'v1')).toBe('apply');
    expect(versionAction({ appliedVersionId: 'v1' }, 'v1')).toBe('unchanged');
    expect(versionAction({ appliedVersionId: 'v1' }, 'v2')).toBe('apply');
    expect(versionAction({ appliedVersionId: 'v1', refusedVersionId: 'v2' }, 'v2')).toBe('refused');
    expect(versionAction({ appliedVersionId: 'v1', refusedVersionId: 'v2' }, 'v3')).toBe('apply');
  });

  it('jitters the poll interval within +-25%', () => {
    expect(nextPollDelay(20_000, 0.25, 0)).toBe(15_000);
    expect(nextPollDelay(20_000, 0.25, 0.5)).toBe(20_000);
    expect(nextPollDelay(20_000, 0.25, 0.999_999)).toBe(25_000);
  });
});

describe('SecretWatcher', () => {
  function watcher(source: SecretSource, apply: (v: { password: string }) => Promise<void>) {
    const log = new RecordingLog();
    let now = 1_000;
    const w = new SecretWatcher({
      name: 'probe',
      source,
      parse: parseProbeSecret,
      apply: (v) => apply(v),
      intervalMs: 20_000,
      log,
      now: () => now,
    });
    return { w, log, tick: (ms: number) => (now += ms) };
  }

  it('applies the first version and each new one once, and reports the version in use', async () => {
    // Prepare
    const source = fakeSource();
    const applied: string[] = [];
    const { w, tick } = watcher(source, async (v) => {
      applied.push(v.password);
    });

    // Act
    await w.pollNow();
    tick(100);
    await w.pollNow();
    source.current = { versionId: 'v2', text: '{"password":"two"}' };
    tick(100);
    await w.pollNow();

    // Assess
    expect(applied).toEqual(['one', 'two']);
    expect(w.status()).toEqual({
      name: 'probe',
      secretId: 'aurora-haproxy/probe',
      versionId: 'v2',
      appliedAt: 1_200,
      checkedAt: 1_200,
    });
  });

  it('a version that does not parse changes nothing, says why once, and is not parsed again', async () => {
    // Prepare
    const source = fakeSource();
    const applied: string[] = [];
    const { w, log } = watcher(source, async (v) => {
      applied.push(v.password);
    });
    await w.pollNow();
    source.current = { versionId: 'v2', text: 'password=hunter2' };

    // Act
    await w.pollNow();
    await w.pollNow();

    // Assess
    expect(applied).toEqual(['one']);
    const status = w.status();
    expect(status.versionId).toBe('v1');
    expect(status.error).toMatch(
      /^is not JSON .*; version v2 of aurora-haproxy\/probe refused, last good version kept$/,
    );
    expect(log.messages('warn')).toHaveLength(1);
    expect(log.lines.join('\n')).not.toContain('hunter2');
    expect(log.lines.join('\n')).not.toContain('"one"');

    // Act: a good version after the bad one
    source.current = { versionId: 'v3', text: '{"password":"three"}' };
    await w.pollNow();

    // Assess
    expect(applied).toEqual(['one', 'three']);
    expect(w.status().error).toBeUndefined();
    expect(w.status().versionId).toBe('v3');
  });

  it('a failed apply keeps the last version in use and is retried at the next poll', async () => {
    // Prepare
    const source = fakeSource();
    let failing = false;
    const applied: string[] = [];
    const { w } = watcher(source, async (v) => {
      if (failing) throw new Error('PgBouncer RELOAD failed: connection refused');
      applied.push(v.password);
    });
    await w.pollNow();
    source.current = { versionId: 'v2', text: '{"password":"two"}' };
    failing = true;

    // Act
    await w.pollNow();
    const during = w.status();
    failing = false;
    await w.pollNow();

    // Assess
    expect(during.versionId).toBe('v1');
    expect(during.error).toMatch(/^PgBouncer RELOAD failed.*; version v2 of .* not in use yet$/);
    expect(applied).toEqual(['one', 'two']);
    expect(w.status()).toMatchObject({ versionId: 'v2' });
    expect(w.status().error).toBeUndefined();
  });

  it('a read failure is reported and the version in use stays', async () => {
    // Prepare
    const source = fakeSource();
    const { w } = watcher(source, async () => undefined);
    await w.pollNow();
    source.fail = 'cannot read secret aurora-haproxy/probe: ThrottlingException: Rate exceeded';

    // Act
    await w.pollNow();
    const during = w.status();
    source.fail = undefined;
    await w.pollNow();

    // Assess
    expect(during).toMatchObject({ versionId: 'v1', error: expect.stringMatching(/Throttling/) });
    expect(w.status().error).toBeUndefined();
  });

  it('joins a poll in flight and rate-limits early polls', async () => {
    // Prepare
    const source = fakeSource();
    const { w, tick } = watcher(source, async () => undefined);

    // Act
    await Promise.all([w.pollNow(), w.pollNow(), w.pollNow()]);
    w.pollSoon();
    await w.pollNow();
    const afterJoin = source.reads;
    tick(6_000);
    w.pollSoon();
    await w.pollNow();

    // Assess: one read for the three joined polls, none for the early poll within 5 s
    expect(afterJoin).toBe(2);
    expect(source.reads).toBe(3);
  });

  it('an unexpected error in a poll nobody awaits becomes the status, not an unhandled rejection', async () => {
    // Prepare: a parser with a bug (not a SecretFormatError), reached by an early poll
    const source = fakeSource();
    let now = 10_000;
    const w = new SecretWatcher({
      name: 'probe',
      source,
      parse: (text) => {
        throw new TypeError(`parser bug near ${text}`);
      },
      apply: async () => undefined,
      intervalMs: 20_000,
      log: new RecordingLog(),
      now: () => now,
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);

    // Act: started without being awaited (as serve does), then an early poll
    void w.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const afterStart = w.status().error;
    now += 6_000;
    w.pollSoon();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await w.stop();
    process.off('unhandledRejection', onUnhandled);

    // Assess
    expect(unhandled).toEqual([]);
    expect(afterStart).toMatch(/unexpected TypeError/);
    expect(afterStart).not.toContain('"password"'); // the secret's text, quoted by the error
    expect(source.reads).toBe(2);
  });
});
