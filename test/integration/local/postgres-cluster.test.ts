import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PG_HOST,
  type PostgresCluster,
  startPostgresCluster,
} from '../../../packages/local-stack/postgres-cluster';
import { isAlive } from '../../../packages/local-stack/process/managed-process';

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

  it('serves TLS only (rds.force_ssl=1): plaintext is refused, every node (replicas too) presents a certificate of the CA for its address', async () => {
    // Prepare
    const connect = async (port: number, ssl: pg.ClientConfig['ssl']) => {
      const client = new pg.Client({
        host: PG_HOST,
        port,
        user: 'postgres',
        database: 'postgres',
        ssl,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return (
          await client.query<{ ssl: boolean }>(
            'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
          )
        ).rows[0]?.ssl;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    for (const node of cluster.nodes()) {
      // Act + Assess: the refusal Aurora gives a plaintext client
      await expect(connect(node.port, false)).rejects.toThrow(
        /no pg_hba.conf entry .*no encryption/,
      );
      // Act + Assess: verify-full against the CA file alone (not the harness's trust list)
      await expect(
        connect(node.port, { ca: readFileSync(cluster.caFile), rejectUnauthorized: true }),
      ).resolves.toBe(true);
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
