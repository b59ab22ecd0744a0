import pg from 'pg';
import { PG_USER } from '../../../../packages/local-stack/postgres-cluster';
import type { ApplyStack } from './stack';

/**
 * Counts reads answered by the writer: a loop of fresh connections (each one is a new
 * HAProxy routing decision), each asking `select pg_is_in_recovery(), inet_server_port()`.
 * `direct`: straight to the cluster's HAProxy listener; `pgbouncer`: through PgBouncer
 * (whose pooled server connections are what long-lived clients use).
 */
export interface ReadCount {
  total: number;
  writer: number;
  failed: number;
  /** Ports of the servers that answered as the writer (for the failure message). */
  writerPorts: number[];
}

export interface ReadLoop {
  stop(): Promise<ReadCount>;
  count: ReadCount;
}

export function startReadLoop(
  stack: ApplyStack,
  via: 'direct' | 'pgbouncer',
  concurrency = 2,
): ReadLoop {
  const count: ReadCount = { total: 0, writer: 0, failed: 0, writerPorts: [] };
  let running = true;
  const target =
    via === 'direct'
      ? {
          host: stack.pgbouncer.host,
          port: stack.clusterPort,
          database: 'postgres',
          ssl: stack.pg.sslThroughProxy(),
        }
      : { host: stack.pgbouncer.host, port: stack.pgbouncer.port, database: 'orders' };
  const one = async () => {
    while (running) {
      const client = new pg.Client({
        ...target,
        user: PG_USER,
        connectionTimeoutMillis: 2_000,
        query_timeout: 2_000,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        const { rows } = await client.query(
          'select pg_is_in_recovery() as replica, inet_server_port() as port',
        );
        count.total++;
        if (rows[0]?.replica === false) {
          count.writer++;
          if (count.writerPorts.length < 10) count.writerPorts.push(Number(rows[0]?.port));
        }
      } catch {
        count.failed++;
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        await client.end().catch(() => {});
      }
    }
  };
  const loops = Array.from({ length: concurrency }, () => one());
  return {
    count,
    async stop() {
      running = false;
      await Promise.all(loops);
      return count;
    },
  };
}
