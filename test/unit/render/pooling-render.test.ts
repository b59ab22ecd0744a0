import { parseBundle } from '@aurora-haproxy/contract/bundle';
import { describe, expect, it } from 'vitest';
import { renderBundle } from '../../../functions/render/render-bundle';
import { clusterMembers, FIXED_NOW, registryCluster, topologies, topology } from './fixtures';

function render(
  orders: Parameters<typeof registryCluster>[2],
  billing: Parameters<typeof registryCluster>[2] = {},
) {
  return renderBundle(
    {
      clusters: [
        registryCluster('orders', 5433, orders, [
          { alias: 'orders', dbname: 'app' },
          { alias: 'orders_ro', dbname: 'app' },
        ]),
        registryCluster('billing', 5434, billing),
      ],
      topologies: topologies(
        topology('orders', clusterMembers(1, 2, 'orders')),
        topology('billing', clusterMembers(2, 1, 'billing')),
      ),
    },
    FIXED_NOW,
  );
}

describe('renderBundle with pooling and slow-start options', () => {
  it("writes each cluster's pool_mode, pool_size and cap on every one of its aliases, nothing on the others", () => {
    // Act
    const bundle = render({ poolMode: 'transaction', poolSize: 10, maxDbConnections: 40 });
    // Assess
    expect(bundle.files.pgbouncerDatabases.split('\n').filter((l) => l.includes('='))).toEqual([
      'billing = host=${AURORA_HAPROXY_LISTEN_ADDR} port=5434 dbname=app',
      'orders = host=${AURORA_HAPROXY_LISTEN_ADDR} port=5433 dbname=app pool_mode=transaction pool_size=10 max_db_connections=40',
      'orders_ro = host=${AURORA_HAPROXY_LISTEN_ADDR} port=5433 dbname=app pool_mode=transaction pool_size=10 max_db_connections=40',
    ]);
    expect(bundle.files.pgbouncerDatabases).not.toContain('[pgbouncer]');
    expect(bundle.requires).toBeUndefined();
  });

  it('writes no max_db_connections for a cap of 0 (PgBouncer: none)', () => {
    // Act
    const bundle = render({ poolMode: 'session', maxDbConnections: 0 });
    // Assess
    expect(bundle.files.pgbouncerDatabases).toContain(
      'orders = host=${AURORA_HAPROXY_LISTEN_ADDR} port=5433 dbname=app pool_mode=session\n',
    );
  });

  it('requires PgBouncer 1.21 for prepared statements and writes no [pgbouncer] section (the host keeps its setting)', () => {
    // Act
    const bundle = render(
      { poolMode: 'transaction', maxPreparedStatements: 100 },
      { poolMode: 'transaction', maxPreparedStatements: 250 },
    );
    // Assess
    expect(bundle.requires).toEqual({ pgbouncer: '1.21' });
    expect(bundle.files.pgbouncerDatabases).not.toContain('[pgbouncer]');
    expect(bundle.files.pgbouncerDatabases).not.toContain('prepared');
    expect(parseBundle(JSON.stringify(bundle)).sha256).toBe(bundle.sha256);
  });

  it('requires nothing when prepared statements are off (0)', () => {
    // Act
    const bundle = render({ poolMode: 'transaction', maxPreparedStatements: 0 });
    // Assess
    expect(bundle.requires).toBeUndefined();
    expect(bundle.files.pgbouncerDatabases).not.toContain('max_prepared_statements');
  });

  it('puts slowstart on every reader slot (spares too) of that cluster only, never on the writer backup', () => {
    // Act
    const bundle = render({ slowStartMs: 8000, fallbackToWriter: true });
    // Assess
    const section = (id: string) =>
      (
        bundle.files.haproxy
          .split(/\n(?=listen )/)
          .find((t) => t.startsWith(`listen aurora-${id}\n`)) ?? ''
      )
        .split('\n')
        .filter((l) => /^\s+server /.test(l));
    const orders = section('orders');
    const ordersSlots = bundle.clusters.find((c) => c.clusterId === 'orders')?.readerSlots ?? 0;
    const readers = orders.filter((l) => /^\s+server r\d\d /.test(l));
    expect(readers).toHaveLength(ordersSlots);
    expect(readers.every((l) => l.endsWith(' slowstart 8000ms'))).toBe(true);
    expect(readers.filter((l) => l.includes(' disabled ')).length).toBeGreaterThan(0);
    expect(orders.find((l) => /^\s+server w1 /.test(l))).toMatch(/ backup$/);
    expect(section('billing').length).toBeGreaterThan(0);
    expect(section('billing').some((l) => l.includes('slowstart'))).toBe(false);
  });

  it('renders a cluster without the options exactly as before: same files and sha as one that never had them', () => {
    // Act
    const plain = render({});
    const offOnly = render({ slowStartMs: 0 });
    // Assess
    expect(offOnly.files).toEqual(plain.files);
    expect(plain.files.haproxy).not.toContain('slowstart');
  });
});
