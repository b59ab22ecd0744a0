import * as z from 'zod';
import { CLUSTER_PORT_MAX, CLUSTER_PORT_MIN } from './host';
import {
  DATABASE_ALIAS,
  DATABASE_NAME,
  isRdsIdentifier,
  PGBOUNCER_RESERVED_DATABASES,
  RDS_IDENTIFIER_MAX,
} from './patterns';
import { poolingOptionRules, refinePooling } from './pooling';

/**
 * The registry contract: which clusters are served, on which HAProxy port, under which
 * PgBouncer aliases, with which options. One definition, imported by functions/ and agent/.
 * Reserved-port checks depend on deployment settings and live in the registry validator.
 */

export const ClusterIdSchema = z
  .string()
  .min(1)
  .max(RDS_IDENTIFIER_MAX)
  .refine(isRdsIdentifier, {
    message:
      'must follow RDS identifier rules: letter first; letters, digits and hyphens; at most 63; no "--"; no trailing "-"',
  })
  .transform((id) => id.toLowerCase());

export const InstanceIdSchema = ClusterIdSchema;

export const PortSchema = z.number().int().min(CLUSTER_PORT_MIN).max(CLUSTER_PORT_MAX);

/** A PgBouncer alias: pattern, and not a name PgBouncer reserves. */
export const AliasSchema = z
  .string()
  .regex(DATABASE_ALIAS, 'must match ^[a-z_][a-z0-9_]{0,62}$')
  .refine((alias) => !PGBOUNCER_RESERVED_DATABASES.includes(alias), {
    message: `is reserved by PgBouncer (its admin console database); reserved: ${PGBOUNCER_RESERVED_DATABASES.join(', ')}`,
    params: { reason: 'reserved_alias' },
  });

export const DatabaseSchema = z.strictObject({
  alias: AliasSchema,
  dbname: z.string().regex(DATABASE_NAME, 'must match ^[A-Za-z_][A-Za-z0-9_-]{0,62}$'),
});

/**
 * Most clusters the registry takes: the measured ceiling at which one bundle (15 readers a
 * cluster, Aurora's maximum) is rendered, stored, fetched and applied on a host
 * (docs/BENCHMARKS.md, "Registry ceiling"). The admin API refuses the add past it.
 */
export const REGISTRY_MAX_CLUSTERS = 5_000;

export const BALANCE_ALGORITHMS = ['leastconn', 'roundrobin', 'random'] as const;
/**
 * `tcp-check`: HAProxy's own tcp-check asks the host daemon; `external`: HAProxy forks
 * postgresqlchk. `agent` is the old name of `tcp-check` (it never was HAProxy's agent-check),
 * accepted for one release: the admin API stores it as `tcp-check` with a warning, and
 * bundles still carry `agent` on the wire (bundleCheckMode) so the previous release's agents
 * accept them.
 */
export const CHECK_MODES = ['tcp-check', 'external', 'agent'] as const;
export type CheckMode = (typeof CHECK_MODES)[number];

/** The deprecated name of a check mode, and the name it stands for. */
export const DEPRECATED_CHECK_MODES: Readonly<Partial<Record<CheckMode, CheckMode>>> = {
  agent: 'tcp-check',
};

/** Whether HAProxy checks with a tcp-check to the host daemon (`tcp-check`, old `agent`). */
export function isTcpCheckMode(mode: CheckMode): boolean {
  return mode === 'tcp-check' || mode === 'agent';
}

/**
 * The check mode as a bundle carries it: `agent` for a tcp-check, for one release, so a host
 * still running the previous agent (which knows only `external` and `agent`) accepts the
 * bundle. Next release: the bundle carries `tcp-check`.
 */
export function bundleCheckMode(mode: CheckMode): CheckMode {
  return isTcpCheckMode(mode) ? 'agent' : mode;
}
export const WEIGHT_MODES = ['equal', 'instance-class'] as const;
export const MAX_REPLICA_LAG_MS_LIMIT = 3_600_000;
export const WRITER_POOL_MODES = ['transaction', 'session'] as const;

/**
 * The writer endpoint of a cluster (opt-in): a PgBouncer alias on its own HAProxy listener
 * (`port`), whose slots hold every member of the cluster and pass only while their server is
 * the writer, so the alias follows failovers without DNS. `poolMode` is the alias's own
 * PgBouncer pool mode: `transaction` (default) hides a failover from every client between
 * transactions; in `session` a client's connection ends with its server connection.
 */
export const WriterEndpointSchema = z.strictObject({
  alias: AliasSchema,
  dbname: z.string().regex(DATABASE_NAME, 'must match ^[A-Za-z_][A-Za-z0-9_-]{0,62}$'),
  port: PortSchema,
  poolMode: z.enum(WRITER_POOL_MODES).default('transaction'),
});

/** Each option's rule, without defaults (an update sends only the options it changes). */
const optionRules = {
  /** HAProxy balance algorithm; leastconn spreads long-lived pooled connections best. */
  balance: z.enum(BALANCE_ALGORITHMS),
  /**
   * tcp-check: HAProxy's own check asks the host daemon over TCP (`<backend>/<slot>` line,
   * agent-protocol reply), no fork, fails closed when the daemon is gone; external: HAProxy
   * forks the postgresqlchk bash client of the same daemon. HAProxy's `agent-check` is not
   * used (docs/HAPROXY-FACTS.md). `agent`: the old name of tcp-check (CHECK_MODES).
   */
  checkMode: z.enum(CHECK_MODES),
  /** A reader lagging more than this fails its check. Absent: lag is not a criterion. */
  maxReplicaLagMs: z.number().int().min(0).max(MAX_REPLICA_LAG_MS_LIMIT),
  /** Serve reads from the writer (as an HAProxy `backup` server) when no reader passes. */
  fallbackToWriter: z.boolean(),
  /** equal: every reader weight 100; instance-class: weight by vCPU of the instance class. */
  weights: z.enum(WEIGHT_MODES),
  /**
   * Each host prefers the readers in its own Availability Zone (RDS AvailabilityZone against
   * the host's AURORA_HAPROXY_AZ) and falls back to every reader once none of those passes.
   * Absent means off, so registries stored before it render byte-identical bundles.
   */
  azAffinity: z.boolean(),
  /** Instances never served, e.g. an analytics reader. */
  excludeInstances: z
    .array(InstanceIdSchema)
    .max(50)
    .refine((ids) => new Set(ids).size === ids.length, { message: 'must not repeat an instance' }),
  /** Pooling and slow start (packages/contract/src/pooling.ts); optional, absent = as before. */
  ...poolingOptionRules,
  /** Writer endpoint (absent: none). Its alias and port are claimed like the cluster's own. */
  writer: WriterEndpointSchema,
};

/** Stored options: every option present, absent ones take their defaults. */
export const ClusterOptionsSchema = z
  .strictObject({
    balance: optionRules.balance.default('leastconn'),
    checkMode: optionRules.checkMode.default('tcp-check'),
    maxReplicaLagMs: optionRules.maxReplicaLagMs.optional(),
    fallbackToWriter: optionRules.fallbackToWriter.default(false),
    weights: optionRules.weights.default('equal'),
    azAffinity: optionRules.azAffinity.optional(),
    excludeInstances: optionRules.excludeInstances.default([]),
    // Optional with no default: absent, they are not stored and not hashed into the bundle.
    poolMode: optionRules.poolMode.optional(),
    poolSize: optionRules.poolSize.optional(),
    maxDbConnections: optionRules.maxDbConnections.optional(),
    maxPreparedStatements: optionRules.maxPreparedStatements.optional(),
    slowStartMs: optionRules.slowStartMs.optional(),
    writer: optionRules.writer.optional(),
  })
  .superRefine(refinePooling(true));

/**
 * Options sent with `update`: only those present change; nothing is defaulted. `writer: null`
 * removes the writer endpoint (its alias and port are released).
 */
export const ClusterOptionsPatchSchema = z
  .strictObject({ ...optionRules, writer: optionRules.writer.nullable() })
  .partial()
  .superRefine(refinePooling(false));

const databasesSchema = z
  .array(DatabaseSchema)
  .min(1)
  .max(20)
  .refine((dbs) => new Set(dbs.map((d) => d.alias)).size === dbs.length, {
    message: 'aliases must be unique within the cluster',
  });

/**
 * Rules between fields of one cluster that involve its writer endpoint: its alias is none of
 * the cluster's reader aliases (one PgBouncer [databases] key cannot name two endpoints) and
 * its port is not the cluster's reader port (one HAProxy listener per port). Registry-wide
 * uniqueness (another cluster's port or alias) is the store's claims.
 */
export function checkWriterEndpoint(
  cluster: {
    port: number;
    databases: readonly { alias: string }[];
    options?: { writer?: { alias: string; port: number } | null };
  },
  ctx: z.RefinementCtx,
): void {
  // Runs after the fields' own rules, which may have failed: read defensively.
  const writer = cluster.options?.writer;
  if (!writer || typeof writer !== 'object') return;
  const databases = Array.isArray(cluster.databases) ? cluster.databases : [];
  if (databases.some((d) => d?.alias === writer.alias)) {
    ctx.addIssue({
      code: 'custom',
      path: ['options', 'writer', 'alias'],
      message: `"${writer.alias}" is also a reader alias of this cluster (databases); the writer endpoint needs an alias of its own`,
      params: { reason: 'writer_alias_is_reader_alias' },
    });
  }
  if (writer.port === cluster.port) {
    ctx.addIssue({
      code: 'custom',
      path: ['options', 'writer', 'port'],
      message: `${writer.port} is the cluster's reader port; the writer endpoint needs a port of its own`,
      params: { reason: 'writer_port_is_reader_port' },
    });
  }
}

/**
 * The options after an `update`: those sent replace the current ones; `writer: null` removes
 * the writer endpoint, an absent `writer` keeps it.
 */
export function mergeOptions(
  current: ClusterOptions,
  patch: z.output<typeof ClusterOptionsPatchSchema> | undefined,
): ClusterOptions {
  const { writer, ...rest } = patch ?? {};
  const merged: ClusterOptions = { ...current, ...rest };
  if (writer === null) delete merged.writer;
  else if (writer !== undefined) merged.writer = writer;
  return merged;
}

/** Every HAProxy port a cluster holds: its reader listener's, and its writer endpoint's. */
export function claimedPorts(cluster: Pick<RegistryCluster, 'port' | 'options'>): number[] {
  const writer = cluster.options.writer;
  return writer ? [cluster.port, writer.port] : [cluster.port];
}

/**
 * The field an operator sent a claimed port or alias in (for an error naming it): the writer
 * endpoint's, or the cluster's own port / one of its databases' aliases.
 */
export function claimField(
  cluster: Pick<RegistryCluster, 'options'>,
  claim: { port: number } | { alias: string },
): string {
  const writer = cluster.options.writer;
  if ('port' in claim) return writer?.port === claim.port ? 'options.writer.port' : 'port';
  return writer?.alias === claim.alias ? 'options.writer.alias' : 'databases.alias';
}

/** Every PgBouncer alias a cluster holds: its databases', and its writer endpoint's. */
export function claimedAliases(cluster: Pick<RegistryCluster, 'databases' | 'options'>): string[] {
  const aliases = cluster.databases.map((d) => d.alias);
  const writer = cluster.options.writer;
  return writer ? [...aliases, writer.alias] : aliases;
}

/** What an operator sends to `add`. Options left out take their defaults. */
export const ClusterAddInputSchema = z.strictObject({
  clusterId: ClusterIdSchema,
  port: PortSchema,
  databases: databasesSchema,
  options: ClusterOptionsSchema.default(ClusterOptionsSchema.parse({})),
});

/** What an operator sends to `update`: the version read, and the fields to change. */
export const ClusterUpdateInputSchema = z.strictObject({
  clusterId: ClusterIdSchema,
  version: z.number().int().min(1),
  port: PortSchema.optional(),
  databases: databasesSchema.optional(),
  options: ClusterOptionsPatchSchema.optional(),
});

/** A stored registry entry. */
export const RegistryClusterSchema = z
  .strictObject({
    clusterId: ClusterIdSchema,
    port: PortSchema,
    databases: databasesSchema,
    options: ClusterOptionsSchema,
    version: z.number().int().min(1),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .superRefine(checkWriterEndpoint);

export type ClusterOptions = z.infer<typeof ClusterOptionsSchema>;
export type WriterEndpoint = z.infer<typeof WriterEndpointSchema>;
export type ClusterDatabase = z.infer<typeof DatabaseSchema>;
export type ClusterAddInput = z.input<typeof ClusterAddInputSchema>;
export type ClusterUpdateInput = z.input<typeof ClusterUpdateInputSchema>;
export type RegistryCluster = z.infer<typeof RegistryClusterSchema>;
