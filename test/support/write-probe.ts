import { errorMessage } from '@aurora-haproxy/contract/error-message';
import pg from 'pg';

/**
 * Write clients for failover tests and benchmarks: `clients` loops, each committing one small
 * write transaction after another through an endpoint (a PgBouncer alias, or a DNS name), and
 * recording every transaction: when it started and ended, whether it committed, on which
 * server (inet_server_port()), and the error otherwise.
 *
 * Robust on a loaded machine and across PgBouncer versions: a client whose connection fails or
 * is closed (PgBouncer closes a client whose server died inside its transaction; on 1.24 it may
 * also close an idle one) is dropped and a new one connects; a connect or a transaction that
 * hangs is bounded by `timeoutMs` and counted as failed, never waited for forever. The loop
 * never sleeps after a success and waits `retryDelayMs` after a failure (no busy loop).
 */
export interface WriteRecord {
  client: number;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  /** The server's port (which node committed it), when ok. */
  serverPort?: number;
  /** One line, when not ok. */
  error?: string;
}

export interface WriteProbeOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  /** The table written to (created by the caller: `id bigserial, at timestamptz`). */
  table: string;
  clients: number;
  timeoutMs?: number;
  retryDelayMs?: number;
}

export interface WriteProbe {
  records: WriteRecord[];
  stop(): Promise<void>;
}

const TABLE = /^[a-z_][a-z0-9_]{0,62}$/;

export function startWriteProbe(options: WriteProbeOptions): WriteProbe {
  if (!TABLE.test(options.table)) throw new Error(`bad table name ${options.table}`);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retryDelayMs = options.retryDelayMs ?? 20;
  const records: WriteRecord[] = [];
  let running = true;

  const loop = async (n: number) => {
    let client: pg.Client | undefined;
    while (running) {
      const startedAt = Date.now();
      try {
        if (!client) {
          const fresh = new pg.Client({
            host: options.host,
            port: options.port,
            database: options.database,
            user: options.user,
            connectionTimeoutMillis: timeoutMs,
            query_timeout: timeoutMs,
          });
          // A connection closed between transactions arrives as an 'error' event.
          fresh.on('error', () => undefined);
          client = fresh;
          await fresh.connect();
        }
        const res = await client.query<{ port: number }>(
          `INSERT INTO ${options.table} (client) VALUES ($1) RETURNING inet_server_port() AS port`,
          [n],
        );
        records.push({
          client: n,
          startedAt,
          endedAt: Date.now(),
          ok: true,
          serverPort: res.rows[0]?.port,
        });
      } catch (error) {
        records.push({
          client: n,
          startedAt,
          endedAt: Date.now(),
          ok: false,
          error: oneLine(error),
        });
        const broken = client;
        client = undefined;
        void broken?.end().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      }
    }
    await client?.end().catch(() => undefined);
  };

  const loops = Array.from({ length: options.clients }, (_, n) => loop(n));
  return {
    records,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

function oneLine(error: unknown): string {
  const text = errorMessage(error);
  return text.replace(/\s+/g, ' ').slice(0, 200);
}

/** What a failover did to the writes, from their records and the moment of promotion. */
export interface FailoverFigures {
  /** First commit on the new writer that started after `promotedAt`, ms after it. */
  firstCommitMs: number | null;
  /** Failed transactions (all), and those that started after the promotion. */
  failed: number;
  failedAfterPromotion: number;
  committed: number;
  /** Distinct error messages, with counts. */
  errors: Record<string, number>;
}

export function failoverFigures(
  records: readonly WriteRecord[],
  promotedAt: number,
  newWriterPort: number,
): FailoverFigures {
  const first = records
    .filter((r) => r.ok && r.serverPort === newWriterPort && r.endedAt >= promotedAt)
    .reduce<number | undefined>((min, r) => Math.min(min ?? r.endedAt, r.endedAt), undefined);
  const failed = records.filter((r) => !r.ok);
  const errors: Record<string, number> = {};
  for (const r of failed) {
    const key = (r.error ?? 'unknown').slice(0, 80);
    errors[key] = (errors[key] ?? 0) + 1;
  }
  return {
    firstCommitMs: first === undefined ? null : first - promotedAt,
    failed: failed.length,
    failedAfterPromotion: failed.filter((r) => r.startedAt >= promotedAt).length,
    committed: records.filter((r) => r.ok).length,
    errors,
  };
}
