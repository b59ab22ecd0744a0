import { HostReportSchema } from '@aurora-haproxy/contract/host-report';
import { describe, expect, it } from 'vitest';
import { formatFleetView } from '../../../functions/fleet-view/format';
import type { StoredHostReport } from '../../../functions/fleet-view/store';
import { buildFleetView } from '../../../functions/fleet-view/view';
import { report, slot } from '../report/fixtures';

/** `clusters status` with a writer endpoint: which member is UP in its listener, per host. */
const NOW = 10_000_000;
const H1 = 'i-0000000000000000a';
const H2 = 'i-0000000000000000b';

function stored(instanceId: string, writerSlots: ReturnType<typeof slot>[]): StoredHostReport {
  return {
    instanceId,
    report: report({
      reportedAt: NOW - 1000,
      clusters: [
        { clusterId: 'orders', backend: 'aurora-orders', slots: [slot()] },
        { clusterId: 'orders', backend: 'aurora-orders_writer', slots: writerSlots },
      ],
    }),
  };
}

const member = (name: string, instanceId: string, state: 'UP' | 'DOWN', reason: string) =>
  slot({ slot: name, instanceId, role: 'member', state, reason, sessions: state === 'UP' ? 4 : 0 });

describe('fleet view of a writer endpoint', () => {
  it('shows the writer UP per host, hosts with none (with reasons) and the reader matrix apart', () => {
    // Prepare
    const reports = [
      stored(H1, [
        member('m01', 'orders-1', 'DOWN', 'not the writer: replica'),
        member('m02', 'orders-w', 'UP', 'writer'),
      ]),
      stored(H2, [
        member('m01', 'orders-1', 'DOWN', 'not the writer: replica'),
        member('m02', 'orders-w', 'DOWN', 'not the writer: unreachable: ECONNREFUSED'),
      ]),
    ];

    // Act
    const view = buildFleetView(reports, ['orders'], NOW, 30_000);
    const text = formatFleetView(view);

    // Assess
    const [cluster] = view.clusters;
    expect(cluster?.readers.map((r) => r.instanceId)).toEqual(['orders-1']);
    expect(cluster?.writer).toEqual({
      backend: 'aurora-orders_writer',
      upOn: { [H1]: ['orders-w'], [H2]: [] },
      hostsWithoutWriter: [H2],
      hostsWithSeveral: [],
      sessions: 4,
      reasons: {
        [H2]: 'orders-1: not the writer: replica; orders-w: not the writer: unreachable: ECONNREFUSED',
      },
    });
    expect(text).toContain(
      '  writer endpoint aurora-orders_writer: orders-w UP on 1/2 hosts, 4 sessions\n',
    );
    expect(text).toContain(
      '  NO WRITER UP on h2: orders-1: not the writer: replica; orders-w: not',
    );
  });

  it('flags a host with two members UP (never expected: the election passes one)', () => {
    // Act
    const view = buildFleetView(
      [
        stored(H1, [
          member('m01', 'orders-1', 'UP', 'writer'),
          member('m02', 'orders-w', 'UP', 'writer'),
        ]),
      ],
      ['orders'],
      NOW,
    );

    // Assess
    expect(view.clusters[0]?.writer?.hostsWithSeveral).toEqual([H1]);
    expect(formatFleetView(view)).toContain('  SEVERAL WRITERS UP on h1: orders-1, orders-w\n');
  });

  it('a cluster without a writer endpoint has no writer view', () => {
    // Act
    const view = buildFleetView(
      [{ instanceId: H1, report: report({ reportedAt: NOW - 1000 }) }],
      ['orders'],
      NOW,
    );

    // Assess
    expect(view.clusters[0] && 'writer' in view.clusters[0]).toBe(false);
    expect(formatFleetView(view)).not.toContain('writer endpoint');
  });

  it('the host report contract takes member slots', () => {
    // Act
    const parsed = HostReportSchema.safeParse(
      (stored(H1, [member('m01', 'orders-1', 'UP', 'writer')]) as { report: unknown }).report,
    );

    // Assess
    expect(parsed.success).toBe(true);
  });
});
