import { parseBundle } from '@aurora-haproxy/contract/bundle';
import { HOST_ENV } from '@aurora-haproxy/contract/host';
import type { TopologyMember } from '@aurora-haproxy/contract/topology';
import { describe, expect, it } from 'vitest';
import { RenderError } from '../../../functions/render/errors';
import { renderBundle } from '../../../functions/render/render-bundle';
import {
  clusterMembers,
  FIXED_NOW,
  member,
  registryCluster,
  topologies,
  topology,
} from './fixtures';

const later = new Date('2026-06-01T12:00:00.000Z');

function twoClusters() {
  return {
    clusters: [
      registryCluster('orders', 5433, { fallbackToWriter: true }),
      registryCluster('billing', 5434, { checkMode: 'external' }),
    ],
    topologies: topologies(
      topology('orders', clusterMembers(1, 3, 'orders')),
      topology('billing', clusterMembers(2, 2, 'billing')),
    ),
  };
}

describe('renderBundle', () => {
  it('renders a bundle that parses and verifies against the contract', () => {
    // Act
    const bundle = renderBundle(twoClusters(), FIXED_NOW);
    // Assess
    expect(parseBundle(JSON.stringify(bundle)).sha256).toBe(bundle.sha256);
    expect(bundle.createdAt).toBe(FIXED_NOW.toISOString());
    expect(bundle.clusters.map((c) => c.clusterId)).toEqual(['billing', 'orders']);
    expect(bundle.files.pgbouncerDatabases).toContain(
      'orders = host=${AURORA_HAPROXY_LISTEN_ADDR} port=5433 dbname=app\n',
    );
  });

  it('is deterministic: same input, same bytes and sha, whatever the time and input order', () => {
    // Prepare
    const input = twoClusters();
    const shuffled = {
      clusters: [...input.clusters].reverse(),
      topologies: topologies(
        topology('billing', [...clusterMembers(2, 2, 'billing')].reverse()),
        topology('orders', [...clusterMembers(1, 3, 'orders')].reverse()),
      ),
    };
    // Act
    const one = renderBundle(input, FIXED_NOW);
    const two = renderBundle(input, later);
    const three = renderBundle(shuffled, later);
    // Assess
    expect(two.sha256).toBe(one.sha256);
    expect(three.sha256).toBe(one.sha256);
    expect(three.files).toEqual(one.files);
    expect(two.createdAt).not.toBe(one.createdAt);
  });

  it('puts the writer only in w1 as a backup server when fallbackToWriter', () => {
    // Act
    const bundle = renderBundle(twoClusters(), FIXED_NOW);
    // Assess
    const orders = bundle.clusters.find((c) => c.clusterId === 'orders');
    const billing = bundle.clusters.find((c) => c.clusterId === 'billing');
    expect(orders?.servers.filter((s) => s.role === 'writer').map((s) => s.name)).toEqual(['w1']);
    expect(billing?.servers.every((s) => s.role === 'reader')).toBe(true);
    expect(bundle.files.haproxy).toMatch(/server w1 10\.1\.0\.1:5432 weight 100 backup\n/);
    expect(bundle.files.haproxy).not.toContain('10.2.0.1:');
  });

  it('references every host-local value only through the HOST_ENV variables', () => {
    // Act
    const { haproxy } = renderBundle(twoClusters(), FIXED_NOW).files;
    // Assess
    const referenced = new Set([...haproxy.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]));
    // The host's zone is read only by clusters with azAffinity (az-affinity.test.ts).
    const expected = Object.values(HOST_ENV).filter((v) => v !== HOST_ENV.availabilityZone);
    expect([...referenced].sort()).toEqual(expected.sort());
  });

  it('keeps slots of staying readers and the capacity across renders', () => {
    // Prepare
    const first = renderBundle(twoClusters(), FIXED_NOW);
    const members = clusterMembers(1, 3, 'orders').filter(
      (m) => m.instanceId !== 'orders-reader-1',
    );
    members.push(member('orders-reader-9', '10.1.0.99'));
    // Act
    const second = renderBundle(
      {
        ...twoClusters(),
        topologies: topologies(
          topology('orders', members),
          topology('billing', clusterMembers(2, 2, 'billing')),
        ),
        previous: first,
      },
      FIXED_NOW,
    );
    // Assess
    const slotsOf = (b: typeof first) =>
      Object.fromEntries(
        (b.clusters.find((c) => c.clusterId === 'orders')?.servers ?? []).map((s) => [
          s.instanceId,
          s.name,
        ]),
      );
    expect(slotsOf(first)).toMatchObject({ 'orders-reader-2': 'r02', 'orders-reader-3': 'r03' });
    expect(slotsOf(second)).toEqual({
      'orders-reader-9': 'r01',
      'orders-reader-2': 'r02',
      'orders-reader-3': 'r03',
      'orders-writer': 'w1',
    });
    expect(second.structureSha256).toBe(first.structureSha256);
    expect(second.sha256).not.toBe(first.sha256);
  });
});

describe('topology faults and failovers', () => {
  it('keeps the previous servers, flagged stale, when a cluster has no topology', () => {
    // Prepare
    const previous = renderBundle(twoClusters(), FIXED_NOW);
    const input = { ...twoClusters(), previous };
    input.topologies.delete('orders');
    // Act
    const bundle = renderBundle(input, FIXED_NOW);
    // Assess
    const before = previous.clusters.find((c) => c.clusterId === 'orders');
    const after = bundle.clusters.find((c) => c.clusterId === 'orders');
    expect(after?.servers).toEqual(before?.servers);
    expect(after?.stale).toBe(true);
    expect(bundle.structureSha256).toBe(previous.structureSha256);
  });

  it('renders an empty, stale cluster when there is neither topology nor previous bundle', () => {
    // Prepare
    const input = twoClusters();
    input.topologies.delete('orders');
    // Act
    const orders = renderBundle(input, FIXED_NOW).clusters.find((c) => c.clusterId === 'orders');
    // Assess
    expect(orders?.servers).toEqual([]);
    expect(orders?.stale).toBe(true);
  });

  it('carries a stale topology flag into the bundle', () => {
    // Prepare
    const input = twoClusters();
    input.topologies.set(
      'orders',
      topology('orders', clusterMembers(1, 3, 'orders'), { stale: true }),
    );
    // Act
    const bundle = renderBundle(input, FIXED_NOW);
    // Assess
    expect(bundle.clusters.find((c) => c.clusterId === 'orders')?.stale).toBe(true);
    expect(bundle.clusters.find((c) => c.clusterId === 'billing')?.stale).toBe(false);
  });

  it('moves a promoted reader to w1 and the old writer to a free reader slot, same structure', () => {
    // Prepare: orders-reader-2 (r02) is promoted; the old writer becomes a reader
    const previous = renderBundle(twoClusters(), FIXED_NOW);
    const afterFailover = clusterMembers(1, 3, 'orders').map((m) => ({
      ...m,
      isWriter: m.instanceId === 'orders-reader-2',
    }));
    const input = { ...twoClusters(), previous };
    input.topologies.set('orders', topology('orders', afterFailover));
    // Act
    const bundle = renderBundle(input, FIXED_NOW);
    // Assess
    const slots = Object.fromEntries(
      (bundle.clusters.find((c) => c.clusterId === 'orders')?.servers ?? []).map((s) => [
        s.name,
        `${s.instanceId}:${s.role}`,
      ]),
    );
    expect(slots).toEqual({
      r01: 'orders-reader-1:reader',
      r02: 'orders-writer:reader',
      r03: 'orders-reader-3:reader',
      w1: 'orders-reader-2:writer',
    });
    expect(bundle.structureSha256).toBe(previous.structureSha256);
  });
});

describe('structureSha256', () => {
  const base = () => twoClusters();
  const structureOf = (input: ReturnType<typeof twoClusters>) =>
    renderBundle(input, FIXED_NOW).structureSha256;

  it('stays the same when readers are added, removed or re-addressed within capacity', () => {
    // Prepare
    const original = structureOf(base());
    const withTopology = (members: ReturnType<typeof clusterMembers>) => ({
      ...base(),
      topologies: topologies(
        topology('orders', members),
        topology('billing', clusterMembers(2, 2, 'billing')),
      ),
    });
    const added = clusterMembers(1, 4, 'orders');
    const removed = clusterMembers(1, 2, 'orders');
    const readdressed = clusterMembers(1, 3, 'orders').map((m) =>
      m.instanceId === 'orders-reader-2' ? { ...m, address: '10.9.9.9' } : m,
    );
    // Act / Assess
    const previous = renderBundle(base(), FIXED_NOW);
    expect(structureOf({ ...withTopology(added), previous } as never)).toBe(original);
    expect(structureOf({ ...withTopology(removed), previous } as never)).toBe(original);
    expect(structureOf({ ...withTopology(readdressed), previous } as never)).toBe(original);
  });

  it('changes with the port, structural options, the cluster set and the capacity', () => {
    // Prepare
    const original = structureOf(base());
    const withCluster = (
      index: number,
      change: Parameters<typeof registryCluster>[2] = {},
      port?: number,
    ) => {
      const input = base();
      const cluster = input.clusters[index];
      if (!cluster) throw new Error('no cluster');
      input.clusters[index] = registryCluster(cluster.clusterId, port ?? cluster.port, {
        ...cluster.options,
        ...change,
      });
      return input;
    };
    const grown = {
      ...base(),
      topologies: topologies(
        topology('orders', clusterMembers(1, 7, 'orders')),
        topology('billing', clusterMembers(2, 2, 'billing')),
      ),
    };
    const fewer = { ...base(), clusters: base().clusters.slice(0, 1) };
    // Act / Assess
    for (const changed of [
      withCluster(0, {}, 6000),
      withCluster(0, { balance: 'roundrobin' }),
      withCluster(0, { checkMode: 'external' }),
      withCluster(0, { fallbackToWriter: false }),
      grown,
      fewer,
    ]) {
      expect(structureOf(changed)).not.toBe(original);
    }
  });
});

describe('bad input', () => {
  it.each([
    ['an address with a space', { address: '10.0.0.5 backup' }, /address "10.0.0.5 backup"/],
    ['an address with a newline', { address: 'evil\nserver x 1.2.3.4:1' }, /address/],
    ['a port out of range', { port: 70000 }, /port 70000/],
    ['a bad instance id', { instanceId: 'bad id' }, /instanceId "bad id"/],
    ['a bad instance class', { instanceClass: 'db.r6g.large;x' }, /instanceClass/],
  ])(
    'holds back a cluster whose topology has a member with %s, naming it',
    (_, change, message) => {
      // Prepare: the previous bundle serves orders; its new RDS answer has one bad value
      const previous = renderBundle(twoClusters(), FIXED_NOW);
      const input = { ...twoClusters(), previous };
      const members = clusterMembers(1, 3, 'orders').map((m, i) =>
        i === 1 ? { ...m, ...change } : m,
      );
      input.topologies.set('orders', topology('orders', members as never));
      const heldBack: string[] = [];
      // Act
      const bundle = renderBundle(
        { ...input, onHeldBack: (id, problem) => heldBack.push(`${id}: ${problem}`) },
        FIXED_NOW,
      );
      // Assess: orders keeps its previous servers, flagged stale; billing is untouched
      expect(heldBack).toHaveLength(1);
      expect(heldBack[0]).toMatch(/^orders: topology of cluster "orders"/);
      expect(heldBack[0]).toMatch(message);
      const orders = bundle.clusters.find((c) => c.clusterId === 'orders');
      expect(orders?.servers).toEqual(
        previous.clusters.find((c) => c.clusterId === 'orders')?.servers,
      );
      expect(orders?.stale).toBe(true);
      expect(bundle.clusters.find((c) => c.clusterId === 'billing')).toEqual(
        previous.clusters.find((c) => c.clusterId === 'billing'),
      );
    },
  );

  it('rejects a registry value that could break a config line', () => {
    const input = twoClusters();
    input.clusters[0] = {
      ...registryCluster('orders', 5433),
      databases: [{ alias: 'x', dbname: 'a b' }],
    };
    expect(() => renderBundle(input, FIXED_NOW)).toThrow(/databases\.0\.dbname "a b"/);
  });

  it('rejects two clusters on one port or sharing an alias', () => {
    const samePort = {
      ...twoClusters(),
      clusters: [registryCluster('a', 5433), registryCluster('b', 5433)],
    };
    const sameAlias = {
      ...twoClusters(),
      clusters: [
        registryCluster('a', 5433, {}, [{ alias: 'x', dbname: 'd' }]),
        registryCluster('b', 5434, {}, [{ alias: 'x', dbname: 'd' }]),
      ],
    };
    expect(() => renderBundle(samePort, FIXED_NOW)).toThrow(
      /port 5433 is also the port of cluster "a"/,
    );
    expect(() => renderBundle(sameAlias, FIXED_NOW)).toThrow(
      /alias "x" is also an alias of cluster "a"/,
    );
  });

  it('holds back a topology filed under another cluster; rejects a tampered previous bundle', () => {
    const wrong = twoClusters();
    wrong.topologies.set('orders', topology('billing', clusterMembers(1, 1)));
    const previous = renderBundle(twoClusters(), FIXED_NOW);
    const tampered = {
      ...twoClusters(),
      previous: { ...previous, files: { ...previous.files, haproxy: 'x' } },
    };
    const problems: string[] = [];
    renderBundle({ ...wrong, onHeldBack: (_, p) => problems.push(p) }, FIXED_NOW);
    expect(problems).toEqual([expect.stringMatching(/is for cluster "billing"/)]);
    expect(() => renderBundle(tampered, FIXED_NOW)).toThrow(RenderError);
    expect(() => renderBundle(tampered, FIXED_NOW)).toThrow(/previous bundle/);
  });

  it.each([
    ['the writer listed again as a reader', 'twice'],
    ['more readers than 99 slots', 'readers do not fit'],
  ])('holds back only the cluster whose RDS answer has %s (issue 16.4)', (what, message) => {
    // Prepare: orders is served; billing gets a new reader in the same run
    const previous = renderBundle(twoClusters(), FIXED_NOW);
    const input = { ...twoClusters(), previous };
    const ordersMembers = clusterMembers(1, 3, 'orders');
    const odd = what.startsWith('the writer')
      ? [...ordersMembers, { ...(ordersMembers[0] as TopologyMember), isWriter: false }]
      : clusterMembers(1, 120, 'orders');
    input.topologies.set('orders', topology('orders', odd as never));
    input.topologies.set('billing', topology('billing', clusterMembers(2, 3, 'billing')));
    const heldBack = new Map<string, string>();
    // Act
    const bundle = renderBundle(
      { ...input, onHeldBack: (id, p) => heldBack.set(id, p) },
      FIXED_NOW,
    );
    // Assess
    expect([...heldBack.keys()]).toEqual(['orders']);
    expect(heldBack.get('orders')).toContain(message);
    const served = (id: string, b: typeof bundle) =>
      b.clusters.find((c) => c.clusterId === id)?.servers.map((s) => s.instanceId);
    expect(served('orders', bundle)).toEqual(served('orders', previous));
    expect(bundle.clusters.find((c) => c.clusterId === 'billing')?.servers).toHaveLength(
      (served('billing', previous)?.length ?? 0) + 1,
    );
    expect(bundle.clusters.find((c) => c.clusterId === 'billing')?.stale).toBe(false);
  });

  it('keeps the previous servers for a stale topology whatever it holds (issue 10.3)', () => {
    // Prepare: an RDS fault, and the cache's last known topology is empty (corrupted)
    const previous = renderBundle(twoClusters(), FIXED_NOW);
    const input = { ...twoClusters(), previous };
    input.topologies.set('orders', topology('orders', [], { stale: true }));
    // Act
    const bundle = renderBundle(input, FIXED_NOW);
    // Assess
    const orders = bundle.clusters.find((c) => c.clusterId === 'orders');
    expect(orders?.servers).toEqual(
      previous.clusters.find((c) => c.clusterId === 'orders')?.servers,
    );
    expect(orders?.servers.length).toBeGreaterThan(0);
    expect(orders?.stale).toBe(true);
  });
});
