import { describe, expect, it } from 'vitest';
import { formatFleetView } from '../../../functions/fleet-view/format';
import { parseItem, type StoredHostReport } from '../../../functions/fleet-view/store';
import { buildFleetView } from '../../../functions/fleet-view/view';
import { report, slot } from '../report/fixtures';

const NOW = 10_000_000;
const H1 = 'i-0000000000000000a';
const H2 = 'i-0000000000000000b';

function stored(
  instanceId: string,
  ageMs: number,
  slots = [slot(), slot({ slot: 'r02', instanceId: 'orders-2' })],
): StoredHostReport {
  return {
    instanceId,
    report: report({
      reportedAt: NOW - ageMs,
      clusters: [{ clusterId: 'orders', backend: 'aurora-orders', slots }],
    }),
  };
}

describe('buildFleetView', () => {
  it('builds the readers x hosts matrix with sessions and the imbalance', () => {
    // Prepare
    const reports = [
      stored(H1, 1000, [
        slot({ sessions: 6 }),
        slot({ slot: 'r02', instanceId: 'orders-2', sessions: 1 }),
      ]),
      stored(H2, 2000, [
        slot({ sessions: 2 }),
        slot({
          slot: 'r02',
          instanceId: 'orders-2',
          state: 'DOWN',
          reason: 'unreachable: ECONNREFUSED',
        }),
      ]),
    ];
    // Act
    const view = buildFleetView(reports, ['orders'], NOW, 30_000);
    // Assess
    const [cluster] = view.clusters;
    expect(
      cluster?.readers.map((r) => [
        r.instanceId,
        r.sessions,
        r.cells[H1]?.state,
        r.cells[H2]?.state,
      ]),
    ).toEqual([
      ['orders-1', 8, 'UP', 'UP'],
      ['orders-2', 1, 'UP', 'DOWN'],
    ]);
    expect(cluster?.readers[1]?.cells[H2]?.reason).toBe('unreachable: ECONNREFUSED');
    expect(cluster?.imbalance).toBe(8);
    expect(cluster?.sessions).toBe(9);
    expect(cluster?.readersUp).toEqual({ [H1]: 2, [H2]: 1 });
    expect(cluster?.hostsWithoutReaderUp).toEqual([]);
    expect(view.staleHosts).toEqual([]);
  });

  it('shows an old report as STALE, never as current, and leaves its sessions out', () => {
    // Prepare
    const reports = [stored(H1, 1000), stored(H2, 30_001, [slot({ sessions: 50 })])];
    // Act
    const view = buildFleetView(reports, ['orders'], NOW, 30_000);
    // Assess
    expect(view.staleHosts).toEqual([H2]);
    expect(view.hosts.find((h) => h.instanceId === H2)?.stale).toBe(true);
    const row = view.clusters[0]?.readers[0];
    expect(row?.cells[H2]).toMatchObject({ state: 'STALE', lastState: 'UP', sessions: 0 });
    expect(row?.sessions).toBe(0);
    expect(view.clusters[0]?.readersUp).toEqual({ [H1]: 2 });
  });

  it('treats a report from the future (a broken host clock) as stale too', () => {
    const view = buildFleetView([stored(H1, -60_000)], ['orders'], NOW, 30_000);
    expect(view.staleHosts).toEqual([H1]);
  });

  it('flags a fresh host that has no reader UP, or does not serve a registered cluster', () => {
    // Prepare
    const reports = [
      stored(H1, 0, [
        slot({ state: 'DOWN' }),
        slot({ slot: 'w1', instanceId: 'orders-0', role: 'writer' }),
      ]),
      { instanceId: H2, report: report({ reportedAt: NOW, clusters: [] }) },
    ];
    // Act
    const view = buildFleetView(reports, ['orders', 'billing'], NOW, 30_000);
    // Assess
    const orders = view.clusters.find((c) => c.clusterId === 'orders');
    expect(orders?.hostsWithoutReaderUp).toEqual([H1, H2]);
    expect(orders?.readers.find((r) => r.role === 'writer')?.cells[H2]?.state).toBe('ABSENT');
    const billing = view.clusters.find((c) => c.clusterId === 'billing');
    expect(billing).toMatchObject({ readers: [], hostsWithoutReaderUp: [H1, H2], imbalance: null });
  });

  it('shows a cluster a host still serves after its removal as not registered; filters by id', () => {
    const view = buildFleetView([stored(H1, 0)], [], NOW, 30_000);
    expect(view.clusters.map((c) => [c.clusterId, c.registered])).toEqual([['orders', false]]);
    expect(buildFleetView([stored(H1, 0)], ['orders'], NOW, 30_000, 'nope').clusters).toEqual([]);
  });

  it('lists an invalid report as a stale host with the reason', () => {
    const view = buildFleetView([{ instanceId: H1, invalid: 'report is not JSON' }], [], NOW);
    expect(view.hosts[0]).toMatchObject({ stale: true, invalid: 'report is not JSON' });
  });
});

describe('parseItem (a stored report, taken at its key)', () => {
  const arn = `arn:aws:ec2:eu-west-1:123456789012:instance/${H1}`;
  it('reads a valid item under the instance id of its key', () => {
    const parsed = parseItem({ host: { S: arn }, report: { S: JSON.stringify(report()) } });
    expect(parsed).toMatchObject({ instanceId: H1, report: { appliedSha256: 'a'.repeat(64) } });
  });

  it.each([
    [
      'a key that is not an instance ARN',
      { host: { S: 'BUNDLE#x' }, report: { S: '{}' } },
      /instance ARN/,
    ],
    ['no report', { host: { S: arn } }, /no report/],
    ['not JSON', { host: { S: arn }, report: { S: '{' } }, /not JSON/],
    [
      'an unknown field',
      { host: { S: arn }, report: { S: JSON.stringify({ ...report(), extra: 1 }) } },
      /malformed/,
    ],
    [
      'a state that is not one of UP/DOWN/MAINT/DRAIN',
      {
        host: { S: arn },
        report: {
          S: JSON.stringify(
            report({
              clusters: [
                { clusterId: 'orders', backend: 'b', slots: [{ ...slot(), state: 'OK' as 'UP' }] },
              ],
            }),
          ),
        },
      },
      /malformed at clusters\.0\.slots\.0\.state/,
    ],
  ])('refuses %s', (_, item, message) => {
    const parsed = parseItem(item);
    expect('invalid' in parsed && parsed.invalid).toMatch(message);
  });
});

describe('formatFleetView (80 columns)', () => {
  it('fits every line in 80 columns with 12 hosts and long reader names, all hosts shown', () => {
    // Prepare
    const hosts = Array.from({ length: 12 }, (_, i) => `i-0f1ee7${String(i).padStart(11, '0')}`);
    const longName = `orders-${'x'.repeat(56)}`;
    const reports = hosts.map((h, i) =>
      stored(h, i === 11 ? 40_000 : 500, [
        slot({ instanceId: longName, sessions: 3 }),
        slot({
          slot: 'r02',
          instanceId: 'orders-2',
          state: i % 2 ? 'DOWN' : 'UP',
          reason: `unreachable: ${'y'.repeat(150)}`,
        }),
      ]),
    );
    // Act
    const text = formatFleetView(buildFleetView(reports, ['orders'], NOW, 30_000));
    // Assess
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    for (let i = 1; i <= 12; i++) expect(text).toMatch(new RegExp(` h${i} `));
    expect(text).toContain('STALE: h12');
    expect(text).toMatch(/orders-2 on h10,h2,h4,h6,h8: DOWN: unreachable/);
  });
});
