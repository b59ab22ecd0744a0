import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { PGBOUNCER_LISTEN_HOST } from '@aurora-haproxy/contract/host';
import { initPgbenchTables } from '@aurora-haproxy/test-support/pgbench';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_BIN_DIR, type PgNode } from '../../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import { atLeast, stackVersions } from '../../../support/stack-versions';
import { ALIAS, type ApplyStack, queryThroughPgbouncer, startApplyStack } from './stack';

/**
 * Pooling per cluster on real processes (issue 12 item 2): PostgreSQL primary + 1 replica,
 * HAProxy, the machine's PgBouncer, the health daemon, bundles rendered from registry options
 * and applied by the real agent. Through a transaction-mode alias:
 * - the maxDbConnections cap holds with 4x more clients than server connections, counted on
 *   the reader itself (pg_stat_activity), and the same load without the cap opens more (so the
 *   count can see a breach);
 * - PgBouncer >= 1.21: `pgbench -M prepared` and node-postgres named statements work with
 *   maxPreparedStatements; PgBouncer < 1.21: the agent refuses that bundle and nothing changes.
 */
const execFileAsync = promisify(execFile);
const CAP = 4;
const CLIENTS = 4 * CAP;
const APP = 'pooling-cap-test';

let stack: ApplyStack;
let replica: PgNode;

beforeAll(async () => {
  stack = await startApplyStack({ replicas: 1 });
  replica = stack.pg.replicas()[0] as PgNode;
});

afterAll(async () => {
  await stack?.stop();
});

async function applied(bundle: Bundle): Promise<AgentResult> {
  const result = await stack.apply(bundle);
  expect(result.ok, result.error).toBe(true);
  // The reader's slot passes its check before reads go through.
  await waitFor('a read through the alias', async () => {
    await queryThroughPgbouncer(stack, 'SELECT 1');
    return true;
  });
  return result;
}

async function pgbouncerAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...stack.pgbouncer.admin, database: 'pgbouncer' });
  client.on('error', () => undefined); // a dropped socket also rejects the pending call
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Server connections on the reader that serve this test's clients (PgBouncer sets their name). */
async function serverConnectionsOnReader(): Promise<number> {
  const client = new pg.Client({
    host: replica.host,
    port: replica.port,
    user: 'postgres',
    ssl: stack.pg.ssl(),
  });
  client.on('error', () => undefined); // a dropped socket also rejects the pending call
  await client.connect();
  try {
    const { rows } = await client.query(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [APP],
    );
    return rows[0].n;
  } finally {
    await client.end();
  }
}

/**
 * CLIENTS clients through the alias, each running `rounds` short transactions, while the
 * reader's server connections and PgBouncer's waiting clients are sampled every 50 ms.
 */
async function loadAndSample(rounds: number) {
  const samples: number[] = [];
  let waitingSeen = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      samples.push(await serverConnectionsOnReader());
      const pools = await pgbouncerAdmin((c) => c.query('SHOW POOLS'));
      const pool = pools.rows.find((r) => r.database === ALIAS);
      waitingSeen = Math.max(waitingSeen, Number(pool?.cl_waiting ?? 0));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  let completed = 0;
  try {
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const client = new pg.Client({
          host: stack.pgbouncer.host,
          port: stack.pgbouncer.port,
          user: 'postgres',
          database: ALIAS,
          application_name: APP,
        });
        client.on('error', () => undefined); // a dropped socket also rejects the pending call
        await client.connect();
        try {
          for (let i = 0; i < rounds; i++) {
            await client.query('SELECT pg_sleep(0.1)');
            completed += 1;
          }
        } finally {
          await client.end();
        }
      }),
    );
  } finally {
    running = false;
    await sampler;
  }
  samples.push(await serverConnectionsOnReader());
  return { samples, waitingSeen, completed };
}

describe('pooling per cluster through a transaction-mode alias', () => {
  it(`caps the reader's server connections at maxDbConnections (${CAP}) under ${CLIENTS} clients; without the cap they exceed it`, async () => {
    // Prepare
    const capped = stack.render([replica], {
      options: { poolMode: 'transaction', maxDbConnections: CAP },
    });
    expect(capped.files.pgbouncerDatabases).toContain(
      `${ALIAS} = host=${PGBOUNCER_LISTEN_HOST} port=${stack.clusterPort} dbname=postgres pool_mode=transaction max_db_connections=${CAP}\n`,
    );
    await applied(capped);
    const shown = await pgbouncerAdmin((c) => c.query('SHOW DATABASES'));
    const entry = shown.rows.find((r) => r.name === ALIAS);
    expect([entry?.pool_mode, Number(entry?.max_connections)]).toEqual(['transaction', CAP]);

    // Act
    const withCap = await loadAndSample(8);

    // Assess
    expect(withCap.completed).toBe(CLIENTS * 8);
    expect(Math.max(...withCap.samples)).toBe(CAP);
    expect(withCap.waitingSeen).toBeGreaterThan(0);

    // Prepare: the same load with the cap removed (the host's default_pool_size is 20)
    await pgbouncerAdmin((c) => c.query(`KILL ${ALIAS}`).then(() => c.query(`RESUME ${ALIAS}`)));
    await applied(
      stack.render([replica], { previous: capped, options: { poolMode: 'transaction' } }),
    );

    // Act
    const withoutCap = await loadAndSample(8);

    // Assess
    expect(withoutCap.completed).toBe(CLIENTS * 8);
    expect(Math.max(...withoutCap.samples)).toBeGreaterThan(CAP);
  });

  const pgbouncer = stackVersions().pgbouncer;
  if (atLeast(pgbouncer, 1, 21)) {
    it('pgbench -M prepared and node-postgres named statements work with maxPreparedStatements (PgBouncer >= 1.21)', async () => {
      // Prepare: pgbench's tables on the primary, replicated to the reader
      const primary = stack.pg.primary();
      await initPgbenchTables({ host: primary.host, port: primary.port, database: 'postgres' });
      await stack.pg.waitForReplication();
      const bundle = stack.render([replica], {
        options: { poolMode: 'transaction', poolSize: 2, maxPreparedStatements: 100 },
      });
      expect(bundle.requires).toEqual({ pgbouncer: '1.21' });
      await applied(bundle);
      // The cap test before this one left idle server connections in this alias's pool (its
      // last bundle had PgBouncer's default pool size) and a RELOAD does not close them: start
      // from none, so the count asserted below is what pool size 2 allows.
      await pgbouncerAdmin(async (c) => {
        await c.query(`KILL ${ALIAS}`);
        await c.query(`RESUME ${ALIAS}`);
      });
      // The host's setting is PgBouncer's: 200 by default from 1.24 (the include cannot set it).
      const config = await pgbouncerAdmin((c) => c.query('SHOW CONFIG'));
      const hostSetting = Number(
        config.rows.find((r) => r.key === 'max_prepared_statements')?.value,
      );
      expect(hostSetting).toBeGreaterThanOrEqual(100);

      // Act: 8 pgbench clients over 2 server connections, prepared statements
      const bench = await execFileAsync(
        join(PG_BIN_DIR, 'pgbench'),
        [
          '-n',
          '-S',
          '-M',
          'prepared',
          '-c',
          '8',
          '-j',
          '2',
          '-t',
          '50',
          '-h',
          stack.pgbouncer.host,
          '-p',
          String(stack.pgbouncer.port),
          '-U',
          'postgres',
          ALIAS,
        ],
        { timeout: 120_000 },
      );
      // Act: node-postgres named statements from 8 clients, 20 transactions each
      const answers = await Promise.all(
        Array.from({ length: 8 }, async (_, n) => {
          const client = new pg.Client({
            host: stack.pgbouncer.host,
            port: stack.pgbouncer.port,
            user: 'postgres',
            database: ALIAS,
          });
          client.on('error', () => undefined); // a dropped socket also rejects the pending call
          await client.connect();
          try {
            const out: number[] = [];
            for (let i = 0; i < 20; i++) {
              const { rows } = await client.query({
                name: 'pooling-next',
                text: 'SELECT $1::int + 1 AS next, pg_is_in_recovery() AS reader',
                values: [n * 100 + i],
              });
              if (rows[0].reader !== true) throw new Error('named statement ran on the writer');
              out.push(rows[0].next);
            }
            return out;
          } finally {
            await client.end();
          }
        }),
      );

      // Assess
      expect(bench.stdout).toMatch(/number of transactions actually processed: 400\/400/);
      expect(bench.stdout).not.toMatch(/number of failed transactions: [1-9]/);
      expect(answers).toEqual(
        Array.from({ length: 8 }, (_, n) => Array.from({ length: 20 }, (_, i) => n * 100 + i + 1)),
      );
      const servers = await pgbouncerAdmin((c) => c.query('SHOW SERVERS'));
      expect(servers.rows.filter((r) => r.database === ALIAS).length).toBeLessThanOrEqual(2);

      // Act: a cluster asking for more than the host keeps is refused, naming both numbers
      const more = hostSetting + 1;
      const refused = await stack.apply(
        stack.render([replica], {
          previous: bundle,
          options: { poolMode: 'transaction', poolSize: 3, maxPreparedStatements: more },
        }),
      );
      // Assess
      expect(refused.ok).toBe(false);
      expect(refused.error).toBe(
        `cluster orders needs max_prepared_statements >= ${more}; this host's PgBouncer has ${hostSetting}: raise it in pgbouncer.ini; nothing changed`,
      );
      const shown = await pgbouncerAdmin((c) => c.query('SHOW DATABASES'));
      expect(Number(shown.rows.find((r) => r.name === ALIAS)?.pool_size)).toBe(2);
    });
  } else {
    it('a bundle with maxPreparedStatements is refused by the agent, naming the version, and nothing changes (PgBouncer < 1.21)', async () => {
      // Prepare
      const before = stack.render([replica], { options: { poolMode: 'transaction', poolSize: 3 } });
      await applied(before);
      const bundle = stack.render([replica], {
        previous: before,
        options: { poolMode: 'transaction', poolSize: 2, maxPreparedStatements: 100 },
      });

      // Act
      const result = await stack.apply(bundle);

      // Assess
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(
        /the bundle requires pgbouncer >= 1\.21 \(host has 1\.\d+[^)]*\); nothing changed/,
      );
      const shown = await pgbouncerAdmin((c) => c.query('SHOW DATABASES'));
      expect(Number(shown.rows.find((r) => r.name === ALIAS)?.pool_size)).toBe(3);
      expect(await queryThroughPgbouncer(stack, 'SELECT pg_is_in_recovery()')).toBe('t');
    });
  }
});
