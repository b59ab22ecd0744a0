import { describe, expect, it } from 'vitest';
import {
  type BundleIndex,
  type SlotTarget,
  serverKey,
} from '../../../../agent/health/bundle-index';
import { answerCheckRequest } from '../../../../agent/health/check-protocol';
import { parseHealthConfig } from '../../../../agent/health/config';
import { HealthMonitor, type Probe } from '../../../../agent/health/health-monitor';
import { silentLogger } from '../../../../agent/health/log';
import type { ProbeEndpoint } from '../../../../agent/health/probe';
import type { VerdictFlip } from '../../../../agent/health/runtime-push';
import type { ProbeResult } from '../../../../agent/health/verdict';

/** A monitor with fake probes whose results the test sets, and a hand-made clock. */
function setup() {
  let now = 1_000_000;
  const flips: VerdictFlip[] = [];
  const probes = new Map<
    string,
    { latest?: ProbeResult; stopped: boolean; emit: (r: ProbeResult) => void }
  >();
  const monitor = new HealthMonitor(parseHealthConfig({ freshnessMs: 1000 }), {
    credentials: { login: async (t) => ({ user: t.user }), invalidate() {} },
    ssl: () => false,
    log: silentLogger,
    now: () => now,
    onFlip: (f) => flips.push(f),
    probeFactory: (endpoint: ProbeEndpoint, onResult): Probe => {
      const state = {
        latest: undefined as ProbeResult | undefined,
        stopped: false,
        emit: (r: ProbeResult) => {
          state.latest = r;
          onResult(endpoint, r);
        },
      };
      probes.set(endpoint.key, state);
      return {
        start() {},
        stop: async () => {
          state.stopped = true;
        },
        latest: () => state.latest,
      };
    },
  });
  return {
    monitor,
    flips,
    probes,
    tick: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

function index(slots: { slot: string; port: number; role?: 'reader' | 'writer' }[]): BundleIndex {
  const targets = new Map<string, SlotTarget>();
  const servers = new Map();
  for (const s of slots) {
    const key = serverKey('127.0.0.1', s.port);
    servers.set(key, { key, address: '127.0.0.1', port: s.port, instanceId: `db-${s.port}` });
    targets.set(`aurora-orders/${s.slot}`, {
      backend: 'aurora-orders',
      slot: s.slot,
      clusterId: 'orders',
      instanceId: `db-${s.port}`,
      address: '127.0.0.1',
      port: s.port,
      role: s.role ?? 'reader',
      checkMode: 'agent',
      options: { fallbackToWriter: false },
      serverKey: key,
    });
  }
  return { sha256: 'b'.repeat(64), slots: targets, servers };
}

const replica = (at: number): ProbeResult => ({
  connected: true,
  inRecovery: true,
  lagMs: 0,
  observedAt: at,
});
const writer = (at: number): ProbeResult => ({
  connected: true,
  inRecovery: false,
  observedAt: at,
});

describe('HealthMonitor', () => {
  it('reports a flip only after the first probe-based verdict, at once', () => {
    // Prepare
    const t = setup();
    t.monitor.setIndex(index([{ slot: 'r01', port: 5001 }]));
    const probe = t.probes.get('127.0.0.1:5001');

    // Act
    probe?.emit(replica(t.now()));
    const afterFirst = t.flips.length;
    probe?.emit(writer(t.now()));

    // Assess
    expect(afterFirst).toBe(0);
    expect(t.flips).toEqual([
      {
        backend: 'aurora-orders',
        slot: 'r01',
        checkMode: 'agent',
        pass: false,
        reason: 'is the writer',
        shutdownSessions: true,
      },
    ]);
  });

  it('turns a probe that stopped reporting into a stale failure on the timer', () => {
    // Prepare
    const t = setup();
    t.monitor.setIndex(index([{ slot: 'r01', port: 5001 }]));
    t.probes.get('127.0.0.1:5001')?.emit(replica(t.now()));

    // Act
    t.tick(1001);
    t.monitor.evaluateAll();

    // Assess
    expect(t.flips).toHaveLength(1);
    expect(t.flips[0]?.reason).toMatch(/^stale/);
    expect(t.monitor.verdictFor('aurora-orders/r01').verdict.pass).toBe(false);
  });

  it('one probe per server; a server that leaves the bundle has its probe stopped', () => {
    // Prepare
    const t = setup();
    t.monitor.setIndex(
      index([
        { slot: 'r01', port: 5001 },
        { slot: 'r02', port: 5002 },
      ]),
    );

    // Act
    t.monitor.setIndex(
      index([
        { slot: 'r02', port: 5002 },
        { slot: 'r03', port: 5003 },
      ]),
    );

    // Assess
    expect([...t.probes.keys()].sort()).toEqual([
      '127.0.0.1:5001',
      '127.0.0.1:5002',
      '127.0.0.1:5003',
    ]);
    expect(t.probes.get('127.0.0.1:5001')?.stopped).toBe(true);
    expect(t.probes.get('127.0.0.1:5002')?.stopped).toBe(false);
    expect(t.monitor.verdictFor('aurora-orders/r01').verdict.reason).toMatch(/^unknown slot/);
  });

  it('lists every slot with its verdict and the age of its probe result', () => {
    // Prepare
    const t = setup();
    t.monitor.setIndex(
      index([
        { slot: 'r01', port: 5001 },
        { slot: 'r02', port: 5002 },
      ]),
    );
    t.probes.get('127.0.0.1:5001')?.emit(replica(t.now()));
    t.tick(250);

    // Act
    const snapshot = t.monitor.snapshot();

    // Assess
    expect(snapshot.map((s) => [s.key, s.verdict.pass, s.ageMs])).toEqual([
      ['aurora-orders/r01', true, 250],
      ['aurora-orders/r02', false, undefined],
    ]);
  });

  it('answers a check from the cached verdicts in well under 1 ms', () => {
    // Prepare: 40 slots with fresh results
    const t = setup();
    const slots = Array.from({ length: 40 }, (_, i) => ({
      slot: `r${String(i + 1).padStart(2, '0')}`,
      port: 6000 + i,
    }));
    t.monitor.setIndex(index(slots));
    for (const p of t.probes.values()) p.emit(replica(t.now()));
    const requests = 20_000;

    // Act
    const started = process.hrtime.bigint();
    let up = 0;
    for (let i = 0; i < requests; i++) {
      if (
        answerCheckRequest(
          `aurora-orders/r${String((i % 40) + 1).padStart(2, '0')}`,
          t.monitor,
          t.now(),
        ) === 'up'
      )
        up++;
    }
    const perRequestMs = Number(process.hrtime.bigint() - started) / 1e6 / requests;

    // Assess
    console.log(`check answer from cache: ${(perRequestMs * 1000).toFixed(2)} us per request`);
    expect(up).toBe(requests);
    expect(perRequestMs).toBeLessThan(1);
  });
});
