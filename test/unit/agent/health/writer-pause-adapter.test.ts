import { silentLog } from '@aurora-haproxy/contract/log';
import { describe, expect, it } from 'vitest';
import type { WriterEndpointView } from '../../../../agent/health/writer-pause';
import {
  type PauseConsole,
  WriterPauseAdapter,
} from '../../../../agent/health/writer-pause-adapter';

const SHA = 'a'.repeat(64);

function harness(opts: { failResume?: number } = {}) {
  let now = 1_000_000;
  let views = new Map<string, WriterEndpointView>();
  const calls: string[] = [];
  let failResume = opts.failResume ?? 0;
  let pushesAnswered = 0;
  const console: PauseConsole = {
    async pause(alias) {
      calls.push(`PAUSE ${alias}`);
      return true;
    },
    async resume(alias) {
      if (failResume > 0) {
        failResume -= 1;
        throw new Error('cannot reach the PgBouncer admin console');
      }
      calls.push(`RESUME ${alias} (pushes answered ${pushesAnswered})`);
      return true;
    },
  };
  const adapter = new WriterPauseAdapter({
    console,
    views: () => views,
    bundleSha: () => SHA,
    beforeResume: async () => {
      pushesAnswered += 1;
    },
    log: silentLog,
    maxPauseMs: 30_000,
    now: () => now,
    retryMs: 1_000,
  });
  const set = (alias: string, v: Partial<WriterEndpointView> | undefined) => {
    views = new Map(views);
    if (v === undefined) views.delete(alias);
    else views.set(alias, { alias, informed: true, elected: true, writerUp: true, ...v });
  };
  const tick = async (ms = 0) => {
    now += ms;
    adapter.evaluate();
    await adapter.idle();
  };
  return { adapter, calls, set, tick };
}

describe('WriterPauseAdapter', () => {
  it('RESUMEs every writer alias at start, PAUSEs at the gap, RESUMEs after the UP push', async () => {
    // Prepare
    const h = harness();
    h.set('orders_rw', {});
    h.set('billing_rw', { informed: false, elected: false, writerUp: false });
    // Act
    await h.tick();
    await h.tick(100);
    h.set('orders_rw', { elected: false, writerUp: false });
    await h.tick(100);
    await h.tick(100);
    h.set('orders_rw', {});
    await h.tick(100);
    // Assess
    expect(h.calls).toEqual([
      'RESUME orders_rw (pushes answered 1)',
      'RESUME billing_rw (pushes answered 2)',
      'PAUSE orders_rw',
      'RESUME orders_rw (pushes answered 3)',
    ]);
    expect(h.adapter.stateOf('orders_rw')).toEqual({ kind: 'running' });
  });

  it('a RESUME that fails is tried again after retryMs, the alias paused until then', async () => {
    // Prepare
    const h = harness({ failResume: 0 });
    h.set('orders_rw', { elected: false, writerUp: false });
    await h.tick(); // start in a gap: PAUSE
    const h2 = harness({ failResume: 2 });
    h2.set('orders_rw', {});
    // Act
    await h2.tick(); // start RESUME fails
    await h2.tick(500); // within retryMs: not tried
    await h2.tick(600); // fails again
    await h2.tick(1_000); // succeeds
    // Assess
    expect(h.calls).toEqual(['PAUSE orders_rw']);
    expect(h2.calls).toEqual(['RESUME orders_rw (pushes answered 3)']);
    expect(h2.adapter.stateOf('orders_rw')).toEqual({ kind: 'running' });
  });

  it('a gap right after a failed start RESUME is PAUSEd at once, not after retryMs', async () => {
    // Prepare: PgBouncer not up yet when the daemon starts
    const h = harness({ failResume: 1 });
    h.set('orders_rw', {});
    await h.tick();
    // Act: the writer is lost 100 ms later
    h.set('orders_rw', { elected: false, writerUp: false });
    await h.tick(100);
    // Assess
    expect(h.calls).toEqual(['PAUSE orders_rw']);
    expect(h.adapter.stateOf('orders_rw')?.kind).toBe('paused');
  });

  it('a PAUSE with no writer for maxPauseMs is RESUMEd once, and not paused again until a writer comes back', async () => {
    // Prepare
    const h = harness();
    h.set('orders_rw', {});
    await h.tick();
    h.set('orders_rw', { elected: false, writerUp: false });
    // Act
    await h.tick(100);
    await h.tick(29_999);
    await h.tick(1);
    await h.tick(5_000);
    h.set('orders_rw', {});
    await h.tick(100);
    h.set('orders_rw', { elected: false, writerUp: false });
    await h.tick(100);
    // Assess
    expect(h.calls).toEqual([
      'RESUME orders_rw (pushes answered 1)',
      'PAUSE orders_rw',
      'RESUME orders_rw (pushes answered 2)',
      'PAUSE orders_rw',
    ]);
  });

  it('an alias removed while paused is RESUMEd and forgotten; close RESUMEs what is still paused', async () => {
    // Prepare
    const h = harness();
    h.set('orders_rw', { elected: false, writerUp: false });
    h.set('billing_rw', { elected: false, writerUp: false });
    await h.tick();
    // Act
    h.set('orders_rw', undefined);
    await h.tick(100);
    await h.adapter.close();
    h.adapter.evaluate();
    // Assess
    expect(h.calls).toEqual([
      'PAUSE orders_rw',
      'PAUSE billing_rw',
      'RESUME orders_rw (pushes answered 1)',
      'RESUME billing_rw (pushes answered 1)',
    ]);
    expect(h.adapter.stateOf('orders_rw')).toBeUndefined();
  });
});
