import { silentLog } from '@aurora-haproxy/contract/log';
import { describe, expect, it } from 'vitest';
import {
  type BundleIndex,
  type SlotTarget,
  serverKey,
} from '../../../../agent/health/bundle-index';
import type { PendingIndex } from '../../../../agent/health/candidates';
import { answerCheckRequest } from '../../../../agent/health/check-protocol';
import { parseHealthConfig } from '../../../../agent/health/config';
import { HealthMonitor, type Probe } from '../../../../agent/health/health-monitor';
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
    log: silentLog,
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
  return { sha256: 'b'.repeat(64), slots: targets, servers, writerAliases: new Map() };
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

  describe('during an apply: the pending slot map', () => {
    /** r01 applied at port 5001; the pending map moves it to 5009. */
    function pendingAt(port: number, sha = 'c'.repeat(64)): PendingIndex {
      const key = serverKey('127.0.0.1', port);
      const target = index([{ slot: 'r01', port }]).slots.get('aurora-orders/r01') as SlotTarget;
      return {
        sha256: sha,
        slots: new Map([['aurora-orders/r01', [target]]]),
        servers: new Map([[key, { key, address: '127.0.0.1', port, instanceId: `db-${port}` }]]),
      };
    }

    it('takes effect once its new server has a first result; then the slot fails (and is pushed down) if that server is the writer', () => {
      // Prepare: r01 up at a replica
      const t = setup();
      const applied = index([{ slot: 'r01', port: 5001 }]);
      t.monitor.setState(applied, undefined);
      t.probes.get('127.0.0.1:5001')?.emit(replica(t.now()));

      // Act: the pending map arrives; its server is probed; it is the writer
      t.monitor.setState(applied, pendingAt(5009));
      const staged = {
        sha: t.monitor.pendingSha256,
        pass: t.monitor.verdictFor('aurora-orders/r01').verdict.pass,
      };
      t.probes.get('127.0.0.1:5009')?.emit(writer(t.now()));

      // Assess: staged, the slot was still judged by its applied server (nothing runs at the
      // pending one before apply sees the map in effect); in effect, it fails and is pushed
      expect(staged).toEqual({ sha: null, pass: true });
      expect(t.monitor.pendingSha256).toBe('c'.repeat(64));
      const now = t.monitor.verdictFor('aurora-orders/r01');
      expect(now.verdict).toMatchObject({ pass: false, writerInReaderSlot: true });
      expect(now.candidates).toHaveLength(2);
      expect(t.flips).toEqual([
        expect.objectContaining({ slot: 'r01', pass: false, shutdownSessions: true }),
      ]);
    });

    it('takes effect after the staging bound even if the new server never answers (then the slot fails closed)', () => {
      // Prepare
      const t = setup();
      const applied = index([{ slot: 'r01', port: 5001 }]);
      t.monitor.setState(applied, undefined);
      t.probes.get('127.0.0.1:5001')?.emit(replica(t.now()));
      t.monitor.setState(applied, pendingAt(5009));

      // Act
      t.tick(5_000);
      t.probes.get('127.0.0.1:5001')?.emit(replica(t.now()));

      // Assess
      expect(t.monitor.pendingSha256).toBe('c'.repeat(64));
      expect(t.monitor.verdictFor('aurora-orders/r01').verdict.pass).toBe(false);
    });

    it('is in effect at once when the daemon starts with it (an apply was killed: HAProxy may run at it)', () => {
      // Act
      const t = setup();
      t.monitor.setState(index([{ slot: 'r01', port: 5001 }]), pendingAt(5009));
      t.probes.get('127.0.0.1:5001')?.emit(replica(t.now()));

      // Assess
      expect(t.monitor.pendingSha256).toBe('c'.repeat(64));
      expect(t.monitor.verdictFor('aurora-orders/r01').verdict.pass).toBe(false);
    });

    it('never raises a slot (push up) while one of its candidates fails', () => {
      // Prepare: r01 moving from a failing server to a replica
      const t = setup();
      const applied = index([{ slot: 'r01', port: 5001 }]);
      t.monitor.setState(applied, pendingAt(5009));
      t.probes.get('127.0.0.1:5001')?.emit(writer(t.now()));
      t.probes.get('127.0.0.1:5009')?.emit(replica(t.now()));

      // Act: the pending replica keeps passing; the old one still the writer
      t.probes.get('127.0.0.1:5009')?.emit(replica(t.now()));

      // Assess
      expect(t.flips.filter((f) => f.pass)).toEqual([]);
      // ...until the apply ends: applied = the new server, map removed
      t.monitor.setState(index([{ slot: 'r01', port: 5009 }]), undefined);
      expect(t.monitor.verdictFor('aurora-orders/r01').verdict.pass).toBe(true);
    });

    it('an external check is judged by the server HAProxy checks, if it is a candidate', () => {
      // Prepare
      const t = setup();
      t.monitor.setState(index([{ slot: 'r01', port: 5001 }]), pendingAt(5009));
      t.probes.get('127.0.0.1:5001')?.emit(replica(t.now()));
      t.probes.get('127.0.0.1:5009')?.emit(writer(t.now()));

      // Act
      const old = t.monitor.verdictAt('aurora-orders/r01', '127.0.0.1', 5001);
      const moved = t.monitor.verdictAt('aurora-orders/r01', '127.0.0.1', 5009);
      const other = t.monitor.verdictAt('aurora-orders/r01', '127.0.0.1', 5555);

      // Assess
      expect(old.verdict.pass).toBe(true);
      expect(moved.verdict).toMatchObject({ pass: false, reason: 'is the writer' });
      expect(other.verdict.reason).toMatch(/not a server of slot/);
    });

    it('an unreadable map fails every slot', () => {
      // Act
      const t = setup();
      t.monitor.setState(index([{ slot: 'r01', port: 5001 }]), 'unreadable');
      t.probes.get('127.0.0.1:5001')?.emit(replica(t.now()));

      // Assess
      expect(t.monitor.verdictFor('aurora-orders/r01').verdict).toMatchObject({
        pass: false,
        reason: expect.stringMatching(/pending slot map unreadable/),
      });
    });
  });
});
