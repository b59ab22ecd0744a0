import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresCluster, startPostgresCluster } from '../../../infra/local/postgres-cluster';
import { isAlive } from '../../../infra/local/process/managed-process';

describe('simulated Aurora cluster (PostgreSQL primary + streaming replicas)', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgresCluster({ replicas: 2 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts a primary and two replicas that replay its writes', async () => {
    // Prepare
    await cluster.query('primary', 'CREATE TABLE t (v int)');

    // Act
    await cluster.query('primary', 'INSERT INTO t VALUES (42)');
    await cluster.waitForReplication();

    // Assess
    expect(cluster.nodes().map((n) => n.role)).toEqual(['primary', 'replica', 'replica']);
    for (const replica of cluster.replicas()) {
      const recovery = await cluster.query(replica.name, 'SELECT pg_is_in_recovery() AS r');
      expect(recovery.rows[0]?.r).toBe(true);
      const rows = await cluster.query(replica.name, 'SELECT v FROM t');
      expect(rows.rows).toEqual([{ v: 42 }]);
    }
  });

  it('fails over: stop the primary, promote a replica, repoint the other', async () => {
    // Prepare
    const [first, second] = cluster.replicas();
    if (!first || !second) throw new Error('expected two replicas');
    const oldPrimary = cluster.primary();

    // Act
    await cluster.stopNode(oldPrimary.name);
    await cluster.promote(first.name);
    await cluster.repoint(first.name);
    await cluster.query(first.name, 'INSERT INTO t VALUES (7)');
    await cluster.waitForReplication();

    // Assess
    expect(isAlive(oldPrimary.pid)).toBe(false);
    expect(cluster.primary().name).toBe(first.name);
    const rows = await cluster.query(second.name, 'SELECT v FROM t ORDER BY v');
    expect(rows.rows).toEqual([{ v: 7 }, { v: 42 }]);
  });

  it('adds a replica from the new primary and removes one', async () => {
    // Prepare
    const before = cluster.replicas().length;

    // Act
    const added = await cluster.addReplica();
    await cluster.waitForReplication();
    const rows = await cluster.query(added.name, 'SELECT count(*)::int AS n FROM t');
    await cluster.removeReplica(added.name);

    // Assess
    expect(rows.rows[0]?.n).toBe(2);
    expect(isAlive(added.pid)).toBe(false);
    expect(cluster.replicas()).toHaveLength(before);
  });
});
