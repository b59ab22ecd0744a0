import { parseBundle } from '@aurora-haproxy/contract/bundle';
import { PGBOUNCER_LISTEN_HOST } from '@aurora-haproxy/contract/host';
import { listenersOf, pgbouncerEntries } from '@aurora-haproxy/contract/listeners';
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

/** The writer endpoint's listener and alias in the bundle (issue 12). */
const writer = { alias: 'orders_rw', dbname: 'app', port: 5533, poolMode: 'transaction' as const };

function withWriter(options: Record<string, unknown> = {}) {
  return registryCluster('orders', 5433, { writer, ...options });
}

describe('writer endpoint render', () => {
  it('adds a listener whose member slots hold every member, the writer and excluded readers too', () => {
    // Prepare
    const members = clusterMembers(1, 3, 'orders');

    // Act
    const bundle = renderBundle(
      {
        clusters: [withWriter({ excludeInstances: ['orders-reader-3'] })],
        topologies: topologies(topology('orders', members)),
      },
      FIXED_NOW,
    );

    // Assess
    const cluster = bundle.clusters[0];
    expect(cluster?.writer?.backend).toBe('aurora-orders_writer');
    expect(cluster?.writer?.slots).toBe(8);
    expect(cluster?.writer?.servers.map((s) => [s.name, s.instanceId, s.role])).toEqual([
      ['m01', 'orders-reader-1', 'reader'],
      ['m02', 'orders-reader-2', 'reader'],
      ['m03', 'orders-reader-3', 'reader'],
      ['m04', 'orders-writer', 'writer'],
    ]);
    expect(cluster?.servers.map((s) => s.instanceId)).toEqual([
      'orders-reader-1',
      'orders-reader-2',
    ]);
    const config = bundle.files.haproxy;
    expect(config).toContain('listen aurora-orders_writer\n');
    const env = (name: string) => `\${${name}}`;
    expect(config).toContain(
      `    bind "unix@${env('AURORA_HAPROXY_SOCKET_DIR')}/.s.PGSQL.5533" mode 666\n`,
    );
    expect(config).toContain(`    bind "${env('AURORA_HAPROXY_LISTEN_ADDR')}:5533"\n`);
    expect(config).toContain('    server m04 10.1.0.1:5432 weight 100\n');
    expect(config).toContain('    server m05 192.0.2.1:5432 weight 100 disabled\n');
    expect(config.split('\n').filter((l) => l.startsWith('    server m0'))).toHaveLength(8);
    expect(bundle.files.pgbouncerDatabases).toContain(
      `orders_rw = host=${PGBOUNCER_LISTEN_HOST} port=5533 dbname=app pool_mode=transaction\n`,
    );
    expect(bundle.files.pgbouncerDatabases).toContain(
      `orders = host=${PGBOUNCER_LISTEN_HOST} port=5433 dbname=app\n`,
    );
    expect(parseBundle(JSON.stringify(bundle)).sha256).toBe(bundle.sha256);
  });

  it('keeps every member in its slot across a failover: membership of the listener unchanged', () => {
    // Prepare
    const before = renderBundle(
      {
        clusters: [withWriter()],
        topologies: topologies(topology('orders', clusterMembers(1, 2, 'orders'))),
      },
      FIXED_NOW,
    );
    const failedOver = [
      member('orders-writer', '10.1.0.1'),
      member('orders-reader-1', '10.1.0.10', { isWriter: true }),
      member('orders-reader-2', '10.1.0.11'),
    ];

    // Act
    const after = renderBundle(
      {
        clusters: [withWriter()],
        topologies: topologies(topology('orders', failedOver)),
        previous: before,
      },
      FIXED_NOW,
    );

    // Assess: same slots, same addresses; only the roles RDS reports moved
    const slots = (b: typeof before) =>
      b.clusters[0]?.writer?.servers.map((s) => `${s.name} ${s.instanceId} ${s.address}`);
    expect(slots(after)).toEqual(slots(before));
    expect(after.structureSha256).toBe(before.structureSha256);
    expect(after.clusters[0]?.writer?.servers.find((s) => s.role === 'writer')?.instanceId).toBe(
      'orders-reader-1',
    );
  });

  it('a new member takes a free slot, with no structural change', () => {
    // Prepare
    const before = renderBundle(
      {
        clusters: [withWriter()],
        topologies: topologies(topology('orders', clusterMembers(1, 1, 'orders'))),
      },
      FIXED_NOW,
    );

    // Act
    const after = renderBundle(
      {
        clusters: [withWriter()],
        topologies: topologies(topology('orders', clusterMembers(1, 2, 'orders'))),
        previous: before,
      },
      FIXED_NOW,
    );

    // Assess
    expect(after.structureSha256).toBe(before.structureSha256);
    expect(after.clusters[0]?.writer?.servers.map((s) => s.name)).toEqual(['m01', 'm02', 'm03']);
  });

  it('with no topology (RDS fault), keeps the previous listener servers', () => {
    // Prepare
    const before = renderBundle(
      {
        clusters: [withWriter()],
        topologies: topologies(topology('orders', clusterMembers(1, 2, 'orders'))),
      },
      FIXED_NOW,
    );

    // Act
    const after = renderBundle(
      { clusters: [withWriter()], topologies: new Map(), previous: before },
      FIXED_NOW,
    );

    // Assess
    expect(after.clusters[0]?.writer).toEqual(before.clusters[0]?.writer);
    expect(after.clusters[0]?.stale).toBe(true);
  });

  it("refuses a writer port that is another cluster's port, and a writer alias that is another's alias", () => {
    // Prepare
    const other = registryCluster('billing', 5533);
    const aliasClash = registryCluster('billing', 5600, {}, [{ alias: 'orders_rw', dbname: 'b' }]);

    // Act
    const portAct = () =>
      renderBundle({ clusters: [withWriter(), other], topologies: new Map() }, FIXED_NOW);
    const aliasAct = () =>
      renderBundle({ clusters: [withWriter(), aliasClash], topologies: new Map() }, FIXED_NOW);

    // Assess
    expect(portAct).toThrow(RenderError);
    expect(portAct).toThrow(/port 5533 is also the port of cluster "billing"/);
    expect(aliasAct).toThrow(/alias "orders_rw" is also an alias of cluster "billing"/);
  });

  it('a cluster without the option renders no writer listener and hashes as before', () => {
    // Act
    const bundle = renderBundle(
      {
        clusters: [registryCluster('orders', 5433)],
        topologies: topologies(topology('orders', clusterMembers(1, 2, 'orders'))),
      },
      FIXED_NOW,
    );

    // Assess
    const cluster = bundle.clusters[0];
    expect(cluster && 'writer' in cluster && cluster.writer !== undefined).toBe(false);
    expect(bundle.files.haproxy).not.toContain('_writer');
    expect(bundle.files.pgbouncerDatabases).not.toContain('pool_mode');
    expect(listenersOf(cluster as NonNullable<typeof cluster>).map((l) => l.kind)).toEqual([
      'readers',
    ]);
  });

  it('lists both listeners and both PgBouncer entries of a cluster with the option', () => {
    // Act
    const bundle = renderBundle(
      {
        clusters: [withWriter()],
        topologies: topologies(topology('orders', clusterMembers(1, 1, 'orders'))),
      },
      FIXED_NOW,
    );
    const cluster = bundle.clusters[0] as NonNullable<(typeof bundle.clusters)[0]>;

    // Assess
    expect(
      listenersOf(cluster).map((l) => [l.kind, l.backend, l.port, l.slotNames.length]),
    ).toEqual([
      ['readers', 'aurora-orders', 5433, 4],
      ['writer', 'aurora-orders_writer', 5533, 4],
    ]);
    expect(pgbouncerEntries(cluster)).toEqual([
      { alias: 'orders', port: 5433, dbname: 'app', backend: 'aurora-orders' },
      {
        alias: 'orders_rw',
        port: 5533,
        dbname: 'app',
        poolMode: 'transaction',
        backend: 'aurora-orders_writer',
      },
    ]);
  });

  it('a bundle whose listener disagrees with options.writer does not parse', () => {
    // Prepare
    const bundle = renderBundle(
      {
        clusters: [withWriter()],
        topologies: topologies(topology('orders', clusterMembers(1, 1, 'orders'))),
      },
      FIXED_NOW,
    );
    const tampered = JSON.parse(JSON.stringify(bundle));
    delete tampered.clusters[0].writer;

    // Act
    const act = () => parseBundle(JSON.stringify(tampered));

    // Assess
    expect(act).toThrow(
      /clusters.0.writer: the writer listener is present exactly when options.writer is set/,
    );
  });
});
