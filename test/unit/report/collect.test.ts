import { HostReportSchema } from '@aurora-haproxy/contract/host-report';
import { describe, expect, it } from 'vitest';
import type { SlotVerdict } from '../../../agent/health/health-monitor';
import { collectReport } from '../../../agent/report/collect';

const verdict: SlotVerdict = {
  key: 'aurora-orders/r01',
  target: {
    backend: 'aurora-orders',
    slot: 'r01',
    clusterId: 'orders',
    instanceId: 'orders-1',
    address: '10.0.0.1',
    port: 5432,
    role: 'reader',
    checkMode: 'agent',
    options: { fallbackToWriter: false },
    serverKey: '10.0.0.1:5432',
  },
  verdict: { pass: true, reason: 'replica, lag 0 ms' },
};
const verdicts = { sha256: 'c'.repeat(64), snapshot: () => [verdict] };

describe('collectReport', () => {
  it('reports a host whose HAProxy and PgBouncer cannot be read, saying why, in a valid report', async () => {
    // Act
    const report = await collectReport({
      verdicts,
      haproxy: {
        command: async () => {
          throw new Error('connect ENOENT /run/aurora-haproxy/admin.sock');
        },
      },
      pgbouncer: {
        read: async () => {
          throw new Error('PgBouncer admin console at 127.0.0.1:6432: ECONNREFUSED');
        },
      },
      now: () => 42,
    });
    // Assess
    expect(HostReportSchema.parse(report)).toEqual(report);
    expect(report.problems).toHaveLength(2);
    expect(report.problems[0]).toMatch(/^haproxy unreachable: connect ENOENT/);
    expect(report.clusters[0]?.slots[0]).toMatchObject({
      state: 'DOWN',
      reason: report.problems[0],
    });
    expect([report.haproxyVersion, report.pgbouncerVersion, report.reportedAt]).toEqual([
      null,
      null,
      42,
    ]);
  });

  it('joins show stat and show info into a valid report', async () => {
    const answers: Record<string, string> = {
      'show stat':
        '# pxname,svname,scur,status,chkfail,check_status,last_chk\naurora-orders,r01,4,UP,1,L7OK,\n',
      'show info': 'Name: HAProxy\nVersion: 2.6.12-1+deb12u4\n',
    };
    const report = await collectReport({
      verdicts,
      haproxy: { command: async (line) => answers[line] ?? '' },
      pgbouncer: { read: async () => ({ version: '1.18.0', pools: [] }) },
      now: () => 1,
    });
    expect(HostReportSchema.parse(report).clusters[0]?.slots[0]).toMatchObject({
      state: 'UP',
      sessions: 4,
      checkFailures: 1,
    });
    expect(report.haproxyVersion).toBe('2.6.12-1+deb12u4');
    expect(report.problems).toEqual([]);
  });
});
