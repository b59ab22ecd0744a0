import type { HostReport, SlotReport } from '@aurora-haproxy/contract/host-report';

export const SHA = 'a'.repeat(64);

export function slot(over: Partial<SlotReport> = {}): SlotReport {
  return {
    slot: 'r01',
    instanceId: 'orders-1',
    role: 'reader',
    state: 'UP',
    reason: 'replica, lag 0 ms',
    sessions: 0,
    checkFailures: 0,
    ...over,
  };
}

export function report(over: Partial<HostReport> = {}): HostReport {
  return {
    reportedAt: 1_000_000,
    appliedSha256: SHA,
    haproxyVersion: '2.6.12-1+deb12u1',
    pgbouncerVersion: '1.18.0',
    problems: [],
    clusters: [
      {
        clusterId: 'orders',
        backend: 'aurora-orders',
        slots: [slot(), slot({ slot: 'r02', instanceId: 'orders-2' })],
      },
    ],
    pools: [],
    ...over,
  };
}
