import { silentLog } from '@aurora-haproxy/contract/log';
import { describe, expect, it } from 'vitest';
import { indexBundle } from '../../../../agent/health/bundle-index';
import { indexPending } from '../../../../agent/health/candidates';
import { answerCheckRequest } from '../../../../agent/health/check-protocol';
import { parseHealthConfig } from '../../../../agent/health/config';
import { HealthMonitor, type Probe } from '../../../../agent/health/health-monitor';
import type { VerdictFlip } from '../../../../agent/health/runtime-push';
import type { ProbeResult } from '../../../../agent/health/verdict';
import { mergePendingSlots } from '../../../../agent/state/pending-slots';
import { renderBundle } from '../../../../functions/render/render-bundle';
import {
  clusterMembers,
  FIXED_NOW,
  member,
  registryCluster,
  topologies,
  topology,
} from '../../render/fixtures';

/**
 * The health daemon's writer endpoint: slots of `aurora-orders_writer` judged by one election
 * from a real rendered bundle, with fake probes and a hand-made clock.
 */
const WRITER_BACKEND = 'aurora-orders_writer';
const cluster = registryCluster('orders', 5433, {
  writer: { alias: 'orders_rw', dbname: 'app', port: 5533, poolMode: 'transaction' },
});
const bundle = renderBundle(
  {
    clusters: [cluster],
    topologies: topologies(topology('orders', clusterMembers(1, 2, 'orders'))),
  },
  FIXED_NOW,
);
// m01 orders-reader-1 10.1.0.10, m02 orders-reader-2 10.1.0.11, m03 orders-writer 10.1.0.1
const KEYS = { r1: '10.1.0.10:5432', r2: '10.1.0.11:5432', w: '10.1.0.1:5432' };
const SLOTS = ['m01', 'm02', 'm03'].map((s) => `${WRITER_BACKEND}/${s}`);

function setup() {
  let now = 1_000_000;
  const flips: VerdictFlip[] = [];
  const probes = new Map<string, { latest?: ProbeResult; emit: (r: ProbeResult) => void }>();
  const monitor = new HealthMonitor(parseHealthConfig({ freshnessMs: 1000 }), {
    credentials: { login: async (t) => ({ user: t.user }), invalidate() {} },
    ssl: () => false,
    log: silentLog,
    now: () => now,
    onFlip: (f) => flips.push(f),
    probeFactory: (endpoint, onResult): Probe => {
      const state = {
        latest: undefined as ProbeResult | undefined,
        emit: (r: ProbeResult) => {
          state.latest = r;
          onResult(endpoint, r);
        },
      };
      probes.set(endpoint.key, state);
      return { start() {}, stop: async () => {}, latest: () => state.latest };
    },
  });
  const emit = (key: string, result: Omit<ProbeResult, 'observedAt'>) =>
    probes.get(key)?.emit({ ...result, observedAt: now });
  const up = () => SLOTS.filter((key) => answerCheckRequest(key, monitor, now) === 'up');
  /** The writer endpoint's flips (the reader listener's are tested elsewhere). */
  const writerFlips = () => flips.filter((f) => f.backend === WRITER_BACKEND);
  return { monitor, writerFlips, emit, up, tick: (ms: number) => (now += ms) };
}

const primary = (timeline: number) => ({ connected: true, inRecovery: false, timeline });
const replica = { connected: true, inRecovery: true, lagMs: 0 };
const gone = { connected: false, error: 'connection refused' };

describe('writer endpoint in the health daemon', () => {
  it('passes exactly the writer, follows a failover, and never answers up for two', () => {
    // Prepare
    const t = setup();
    t.monitor.setIndex(indexBundle(bundle));
    t.emit(KEYS.w, primary(1));
    t.emit(KEYS.r1, replica);
    t.emit(KEYS.r2, replica);
    const before = t.up();

    // Act: the writer dies; reader-1 is promoted (timeline 2)
    t.emit(KEYS.w, gone);
    const during = t.up();
    t.emit(KEYS.r1, primary(2));
    const after = t.up();

    // Assess
    expect(before).toEqual([`${WRITER_BACKEND}/m03`]);
    expect(during).toEqual([]);
    expect(after).toEqual([`${WRITER_BACKEND}/m01`]);
    expect(t.writerFlips().map((f) => `${f.slot} ${f.pass ? 'up' : 'down'}`)).toEqual([
      'm03 down',
      'm01 up',
    ]);
    expect(t.writerFlips()[0]?.reason).toMatch(/not the writer: unreachable/);
    // The reader listener is judged as before: the promoted reader fails its reader slot.
    expect(t.monitor.verdictFor('aurora-orders/r01').verdict).toMatchObject({
      pass: false,
      writerInReaderSlot: true,
    });
  });

  it('writerEndpoints: informed once every member is probed, the gap seen, the new writer UP', () => {
    // Prepare
    const t = setup();
    t.monitor.setIndex(indexBundle(bundle));
    const view = () => t.monitor.writerEndpoints().get('orders_rw');
    const before = view();
    t.emit(KEYS.w, primary(1));
    t.emit(KEYS.r1, replica);
    const partly = view();
    t.emit(KEYS.r2, replica);
    const steady = view();
    // Act: the writer goes, then replica 1 is promoted
    t.emit(KEYS.w, gone);
    const gap = view();
    t.emit(KEYS.r1, primary(2));
    const after = view();
    // Assess
    expect([before, partly, steady, gap, after]).toEqual([
      { alias: 'orders_rw', informed: false, elected: false, writerUp: false },
      { alias: 'orders_rw', informed: false, elected: true, writerUp: true },
      { alias: 'orders_rw', informed: true, elected: true, writerUp: true },
      { alias: 'orders_rw', informed: true, elected: false, writerUp: false },
      { alias: 'orders_rw', informed: true, elected: true, writerUp: true },
    ]);
    expect([...t.monitor.writerEndpoints().keys()]).toEqual(['orders_rw']);
  });

  it('split brain: the promoted one wins, the old writer flips down first and loses its sessions', () => {
    // Prepare: the old primary keeps running while reader-1 is promoted
    const t = setup();
    t.monitor.setIndex(indexBundle(bundle));
    t.emit(KEYS.w, primary(1));
    t.emit(KEYS.r1, replica);
    t.emit(KEYS.r2, replica);

    // Act
    t.emit(KEYS.r1, primary(2));

    // Assess: the down is reported before the up (HAProxy never has both UP)
    expect(t.writerFlips()).toEqual([
      expect.objectContaining({ slot: 'm03', pass: false, shutdownSessions: true }),
      expect.objectContaining({ slot: 'm01', pass: true, shutdownSessions: false }),
    ]);
    expect(t.writerFlips()[0]?.reason).toMatch(
      /claims the writer but lost the writer election to 10.1.0.10:5432/,
    );
    expect(t.up()).toEqual([`${WRITER_BACKEND}/m01`]);
  });

  it('a stalled probe of the writer fails its slot on the timer (stale), none passes', () => {
    // Prepare
    const t = setup();
    t.monitor.setIndex(indexBundle(bundle));
    t.emit(KEYS.w, primary(1));
    t.emit(KEYS.r1, replica);
    t.emit(KEYS.r2, replica);

    // Act
    t.tick(1500);
    t.monitor.evaluateAll();

    // Assess
    expect(t.up()).toEqual([]);
    expect(t.writerFlips()).toEqual([expect.objectContaining({ slot: 'm03', pass: false })]);
  });

  it('during an apply, a slot passes only when every server it may be at is the writer', () => {
    // Prepare: the next bundle moves reader-2 away and a new member takes its slot m02
    const next = renderBundle(
      {
        clusters: [cluster],
        topologies: topologies(
          topology('orders', [
            member('orders-writer', '10.1.0.1', { isWriter: true }),
            member('orders-reader-1', '10.1.0.10'),
            member('orders-reader-3', '10.1.0.12'),
          ]),
        ),
      },
      FIXED_NOW,
    );
    const t = setup();
    t.monitor.setState(indexBundle(bundle), indexPending(mergePendingSlots(undefined, next)));
    t.emit(KEYS.w, primary(1));
    t.emit(KEYS.r1, replica);
    t.emit(KEYS.r2, replica);
    t.emit('10.1.0.12:5432', replica);

    // Act
    const m02 = t.monitor.verdictFor(`${WRITER_BACKEND}/m02`);
    const m03 = t.monitor.verdictFor(`${WRITER_BACKEND}/m03`);

    // Assess
    expect(next.clusters[0]?.writer?.servers.find((s) => s.name === 'm02')?.instanceId).toBe(
      'orders-reader-3',
    );
    expect(m02.candidates?.map((c) => c.target.serverKey)).toEqual([KEYS.r2, '10.1.0.12:5432']);
    expect(m02.verdict.pass).toBe(false);
    expect(m03.verdict.pass).toBe(true);
  });
});
