import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { sleep } from '../../../packages/local-stack/process/wait';
import { processCa } from '../../../packages/local-stack/tls/local-ca';

/**
 * Client loops that ask `SELECT pg_is_in_recovery()` through an endpoint and record, for
 * every answer, when it came and whether a replica (true) or the writer (false) served it.
 * - `newConnectionLoop`: a new connection per query (what HAProxy's routing decides);
 * - `pooledLoop`: held connections (through PgBouncer: what pooled clients see).
 */
export interface Answer {
  at: number;
  inRecovery: boolean;
}

export interface ReadLoop {
  answers: Answer[];
  errors: number[];
  stop(): Promise<void>;
}

interface Endpoint {
  host: string;
  port: number;
  database: string;
  /** node-postgres TLS (a HAProxy listener passes the nodes' TLS-only handshake through). */
  ssl?: ConnectionOptions;
}

const QUERY = 'SELECT pg_is_in_recovery() AS r';

export function newConnectionLoop(endpoint: Endpoint): ReadLoop {
  const answers: Answer[] = [];
  const errors: number[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const client = new pg.Client({
        ...endpoint,
        user: 'postgres',
        connectionTimeoutMillis: 1000,
        query_timeout: 1000,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        const r = await client.query<{ r: boolean }>(QUERY);
        answers.push({ at: Date.now(), inRecovery: r.rows[0]?.r === true });
      } catch {
        errors.push(Date.now());
        await sleep(20);
      } finally {
        await client.end().catch(() => {});
      }
    }
  })();
  return {
    answers,
    errors,
    async stop() {
      running = false;
      await done;
    },
  };
}

export function pooledLoop(endpoint: Endpoint, clients: number, pauseMs = 5): ReadLoop {
  const answers: Answer[] = [];
  const errors: number[] = [];
  let running = true;
  const one = async () => {
    let client: pg.Client | undefined;
    while (running) {
      try {
        if (!client) {
          client = new pg.Client({
            ...endpoint,
            user: 'postgres',
            connectionTimeoutMillis: 1000,
            query_timeout: 1000,
          });
          client.on('error', () => {});
          await client.connect();
        }
        const r = await client.query<{ r: boolean }>(QUERY);
        answers.push({ at: Date.now(), inRecovery: r.rows[0]?.r === true });
        await sleep(pauseMs);
      } catch {
        errors.push(Date.now());
        await client?.end().catch(() => {});
        client = undefined;
        await sleep(20);
      }
    }
    await client?.end().catch(() => {});
  };
  const done = Promise.all(Array.from({ length: clients }, one));
  return {
    answers,
    errors,
    async stop() {
      running = false;
      await done;
    },
  };
}

/**
 * Convergence of one loop after a promotion at `promotedAt`: the time from the promotion to
 * the last answer the writer served (0 when it served none). `censored` when the writer still
 * answered in the last second of the window: it had not converged when the window ended.
 */
export function convergence(
  loop: ReadLoop,
  promotedAt: number,
  windowEnd: number,
): { ms: number; censored: boolean; writerAnswers: number } {
  const writer = loop.answers.filter((a) => a.at >= promotedAt && !a.inRecovery);
  const last = writer.length ? (writer[writer.length - 1] as Answer).at : promotedAt;
  return {
    ms: last - promotedAt,
    censored: writer.length > 0 && windowEnd - last < 1000,
    writerAnswers: writer.length,
  };
}

/**
 * The moment a promoted node leaves recovery, seen from a connection of its own polled every
 * few ms while `promote` runs (pg_promote(wait) can return well after the node already
 * answers as a writer, e.g. when it waited for wal_retrieve_retry_interval).
 */
export async function promotionMoment(
  node: { host: string; port: number },
  promote: () => Promise<void>,
): Promise<number> {
  const client = new pg.Client({
    host: node.host,
    port: node.port,
    user: 'postgres',
    database: 'postgres',
    // The simulated nodes accept TLS only (their certificates name 127.0.0.1).
    ssl: { ca: processCa().pem(), rejectUnauthorized: true },
  });
  client.on('error', () => {});
  await client.connect();
  let at: number | undefined;
  let polling = true;
  const poll = (async () => {
    while (polling && at === undefined) {
      const r = await client.query<{ r: boolean }>(QUERY).catch(() => undefined);
      if (r && r.rows[0]?.r === false) at = Date.now();
      else await sleep(5);
    }
  })();
  try {
    await promote();
    for (let i = 0; i < 200 && at === undefined; i++) await sleep(10);
  } finally {
    polling = false;
    await poll;
    await client.end().catch(() => {});
  }
  if (at === undefined) throw new Error('the promoted node never answered as a writer');
  return at;
}
