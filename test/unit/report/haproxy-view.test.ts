import { describe, expect, it } from 'vitest';
import type { SlotTarget } from '../../../agent/health/bundle-index';
import type { SlotVerdict } from '../../../agent/health/health-monitor';
import {
  clusterReports,
  haproxyVersionOf,
  serverStateOf,
} from '../../../agent/report/haproxy-view';

function verdict(
  slot: string,
  pass: boolean,
  reason: string,
  role: 'reader' | 'writer' = 'reader',
): SlotVerdict {
  const target: SlotTarget = {
    backend: 'aurora-orders',
    slot,
    clusterId: 'orders',
    instanceId: `orders-${slot}`,
    address: '10.0.0.1',
    port: 5432,
    role,
    checkMode: 'agent',
    options: { fallbackToWriter: false },
    serverKey: '10.0.0.1:5432',
  };
  return { key: `aurora-orders/${slot}`, target, verdict: { pass, reason }, ageMs: 10 };
}

const row = (svname: string, status: string, extra: Record<string, string> = {}) => ({
  pxname: 'aurora-orders',
  svname,
  status,
  scur: '0',
  chkfail: '0',
  check_status: 'L7OK',
  last_chk: '',
  ...extra,
});

describe('serverStateOf (HAProxy show stat status)', () => {
  it.each([
    ['UP', 'UP'],
    ['UP 1/2', 'UP'],
    ['no check', 'UP'],
    ['DOWN', 'DOWN'],
    ['DOWN 1/2', 'DOWN'],
    ['MAINT', 'MAINT'],
    ['MAINT (resolution)', 'MAINT'],
    ['MAINT (via aurora-x/r01)', 'MAINT'],
    ['DRAIN', 'DRAIN'],
    ['NOLB', 'DRAIN'],
    ['', 'DOWN'],
    ['garbage', 'DOWN'],
  ])('%j -> %s', (status, state) => {
    expect(serverStateOf(status)).toBe(state);
  });
});

describe('clusterReports', () => {
  it("joins the bundle's slots with HAProxy's stats: state, reason, sessions, check failures", () => {
    // Prepare
    const rows = [
      row('r01', 'UP', { scur: '7', chkfail: '2' }),
      row('r02', 'DOWN', { check_status: 'L7RSP' }),
      row('r03', 'DOWN', { check_status: 'L4CON', last_chk: 'Connection refused' }),
      row('r04', 'MAINT'),
      row('r99', 'MAINT'), // a spare: not in the bundle
      { pxname: 'stats', svname: 'FRONTEND', status: 'OPEN' },
    ];
    const verdicts = [
      verdict('r01', true, 'replica, lag 3 ms'),
      verdict('r02', false, 'unreachable: connect ECONNREFUSED'),
      verdict('r03', true, 'replica, lag 0 ms'),
      verdict('r04', true, 'replica, lag 0 ms'),
      verdict('r05', true, 'replica, lag 0 ms'),
    ];
    // Act
    const [cluster] = clusterReports(rows, verdicts);
    // Assess
    expect(cluster?.clusterId).toBe('orders');
    expect(cluster?.slots.map((s) => [s.slot, s.state, s.reason])).toEqual([
      ['r01', 'UP', 'replica, lag 3 ms'],
      ['r02', 'DOWN', 'unreachable: connect ECONNREFUSED'],
      ['r03', 'DOWN', 'haproxy: L4CON Connection refused'],
      ['r04', 'MAINT', 'maintenance'],
      ['r05', 'DOWN', 'not in HAProxy'],
    ]);
    expect(cluster?.slots[0]).toMatchObject({
      sessions: 7,
      checkFailures: 2,
      instanceId: 'orders-r01',
    });
  });

  it("counts the sessions of a slot's in-zone twin (azAffinity) as the slot's", () => {
    // Prepare
    const rows = [
      row('r01', 'UP', { scur: '2' }),
      { ...row('r01', 'UP', { scur: '5' }), pxname: 'aurora-orders_az' },
    ];
    // Act
    const [cluster] = clusterReports(rows, [verdict('r01', true, 'replica, lag 0 ms')]);
    // Assess
    expect(cluster?.slots[0]).toMatchObject({ state: 'UP', sessions: 7 });
  });

  it('says HAProxy is unreachable rather than reporting stale states', () => {
    const [cluster] = clusterReports(
      [],
      [verdict('r01', true, 'ok')],
      'haproxy unreachable: ENOENT',
    );
    expect(cluster?.slots[0]).toMatchObject({
      state: 'DOWN',
      reason: 'haproxy unreachable: ENOENT',
    });
  });

  it('keeps reasons to one bounded printable line and counters sane', () => {
    const long = `bad\n${'x'.repeat(500)}`;
    const [cluster] = clusterReports(
      [row('r01', 'DOWN', { scur: '-4', chkfail: 'NaN' })],
      [verdict('r01', false, long)],
    );
    const s = cluster?.slots[0];
    expect(s?.reason).not.toContain('\n');
    expect(s?.reason.length).toBeLessThanOrEqual(200);
    expect([s?.sessions, s?.checkFailures]).toEqual([0, 0]);
  });
});

describe('haproxyVersionOf', () => {
  it('reads the Version line of show info', () => {
    expect(
      haproxyVersionOf('Name: HAProxy\nVersion: 2.6.12-1+deb12u1\nRelease_date: 2023/03/10\n'),
    ).toBe('2.6.12-1+deb12u1');
    expect(haproxyVersionOf('Unknown command')).toBeNull();
  });
});
