import type { PostgresCluster } from '../../../packages/local-stack/postgres-cluster';
import { sleep } from '../../../packages/local-stack/process/wait';

/**
 * Sessions ever opened on a PostgreSQL node (pg_stat_database.sessions, PostgreSQL 14+),
 * read over the cluster helper's held connection. Per-database counters are flushed by
 * backends with a delay of up to ~1 s, so readers wait before the "after" read.
 */
export async function sessionsOpened(cluster: PostgresCluster, node: string): Promise<number> {
  const r = await cluster.query<{ s: string }>(
    node,
    'SELECT pg_stat_clear_snapshot(), coalesce(sum(sessions), 0)::text AS s FROM pg_stat_database',
  );
  return Number(r.rows[0]?.s ?? 0);
}

/** New sessions on `node` while `work` runs (excluding nothing: the counting read is held). */
export async function countNewSessions<T>(
  cluster: PostgresCluster,
  node: string,
  work: () => Promise<T>,
): Promise<{ value: T; sessions: number }> {
  const before = await sessionsOpened(cluster, node);
  const value = await work();
  await sleep(1200);
  const after = await sessionsOpened(cluster, node);
  return { value, sessions: after - before };
}
