import * as z from 'zod';

/**
 * Per-cluster pooling and slow-start options (issue 12): their rules, the combinations that
 * are refused, and what each needs from a host's PgBouncer. All optional: a cluster that sets
 * none renders exactly as before (the host's pgbouncer.ini pool settings, no slowstart), so
 * bundles of registries made before these options keep their bytes and sha.
 */

export const POOL_MODES = ['session', 'transaction'] as const;

/**
 * Upper bound of a pool size or cap: Aurora PostgreSQL's highest default max_connections
 * (LEAST(DBInstanceClassMemory/9531392, 5000), Aurora PostgreSQL "Maximum connections" doc).
 * A per-host pool above what even the largest default instance accepts is a typo, not a plan.
 */
export const POOL_CONNECTIONS_LIMIT = 5_000;
/** PgBouncer keeps this many prepared statements per server connection (memory on each). */
export const MAX_PREPARED_STATEMENTS_LIMIT = 10_000;
/** Longest slow start: 10 minutes of ramp is already longer than any cache warms. */
export const SLOW_START_MS_LIMIT = 600_000;

/** The first PgBouncer that tracks protocol-level prepared statements in transaction mode. */
export const PREPARED_STATEMENTS_MIN_PGBOUNCER = '1.21';

export const poolingOptionRules = {
  /**
   * PgBouncer `pool_mode` of the cluster's aliases. session: a client keeps its server
   * connection until it disconnects; transaction: only for a transaction (SET, LISTEN,
   * advisory locks and WITH HOLD cursors do not survive it). Absent: the host's pool_mode.
   * `statement` is not offered: it breaks every multi-statement transaction.
   */
  poolMode: z.enum(POOL_MODES),
  /** PgBouncer `pool_size` of each alias (server connections per alias and user, per host). */
  poolSize: z.number().int().min(1).max(POOL_CONNECTIONS_LIMIT),
  /**
   * PgBouncer `max_db_connections` of each alias: the most server connections one host opens
   * for that alias, whatever the users; clients past it wait in PgBouncer (query_wait_timeout).
   * A reader gets at most hosts x aliases x maxDbConnections (all of it when it is the only
   * reader that passes): size it below the readers' max_connections. 0: no cap (PgBouncer's 0).
   */
  maxDbConnections: z.number().int().min(0).max(POOL_CONNECTIONS_LIMIT),
  /**
   * Prepared statements per server connection the cluster's clients need in transaction mode
   * (PgBouncer >= 1.21 `max_prepared_statements`). PgBouncer's setting is host-wide, in the
   * host's pgbouncer.ini (200 by default from 1.24): the agent refuses a bundle whose largest
   * value the host does not keep (agent/apply/versions.ts). 0: off. Needs poolMode transaction.
   */
  maxPreparedStatements: z.number().int().min(0).max(MAX_PREPARED_STATEMENTS_LIMIT),
  /**
   * HAProxy `slowstart` on reader slots: a reader that joins or comes back up takes a share
   * of new connections that grows from 0 to its weight over this many ms. 0: off.
   */
  slowStartMs: z.number().int().min(0).max(SLOW_START_MS_LIMIT),
};

export interface PoolingOptions {
  poolMode?: (typeof POOL_MODES)[number];
  poolSize?: number;
  maxDbConnections?: number;
  maxPreparedStatements?: number;
  slowStartMs?: number;
}

export interface PoolingIssue {
  field: keyof PoolingOptions;
  message: string;
}

/**
 * Combinations refused (pure). Checks only fields present, so a patch is checked on what it
 * sends and the stored options (after merging) in full. Pass conditions:
 * 1. maxPreparedStatements > 0 comes with poolMode transaction (PgBouncer tracks prepared
 *    statements only in transaction mode; in session mode they work without it, so asking for
 *    it there is a mistake about what the cluster does);
 * 2. with a cap (maxDbConnections > 0), poolSize is at most the cap (a pool the cap never
 *    lets fill is a contradiction PgBouncer silently resolves to the cap).
 * `complete` says whether absent fields are absent for good (stored options) or just not sent.
 */
export function poolingIssues(options: PoolingOptions, complete: boolean): PoolingIssue[] {
  const issues: PoolingIssue[] = [];
  const prepared = options.maxPreparedStatements ?? 0;
  if (prepared > 0 && options.poolMode !== 'transaction') {
    if (complete || options.poolMode !== undefined) {
      issues.push({
        field: 'maxPreparedStatements',
        message: `${prepared} needs poolMode "transaction" (poolMode is ${options.poolMode === undefined ? 'not set' : `"${options.poolMode}"`}; session mode keeps prepared statements without it)`,
      });
    }
  }
  const cap = options.maxDbConnections ?? 0;
  if (cap > 0 && options.poolSize !== undefined && options.poolSize > cap) {
    issues.push({
      field: 'poolSize',
      message: `${options.poolSize} is above maxDbConnections ${cap}: the pool could never fill`,
    });
  }
  return issues;
}

/** Adds poolingIssues to a zod refinement context, each at its field. */
export function refinePooling(complete: boolean) {
  return (options: PoolingOptions, ctx: z.RefinementCtx): void => {
    for (const issue of poolingIssues(options, complete)) {
      ctx.addIssue({
        code: 'custom',
        path: [issue.field],
        message: issue.message,
        params: { reason: 'incompatible_options' },
      });
    }
  };
}

/**
 * The oldest PgBouncer the options need on a host, or undefined (pure). Only prepared
 * statements in transaction mode need a version newer than Debian 12's 1.18; pool_mode,
 * pool_size and max_db_connections per database are in every supported PgBouncer.
 */
export function pgbouncerNeeded(options: PoolingOptions): string | undefined {
  return (options.maxPreparedStatements ?? 0) > 0 ? PREPARED_STATEMENTS_MIN_PGBOUNCER : undefined;
}
