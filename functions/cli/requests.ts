/**
 * Turn command-line options into admin requests. Values are passed on as typed as they can
 * be read (integers as numbers) and validated by the admin core, so the CLI and the Lambda
 * reject bad input with the same messages.
 */
export interface ClusterOptionFlags {
  port?: string;
  db?: string[];
  balance?: string;
  checkMode?: string;
  maxReplicaLagMs?: string;
  fallbackToWriter?: boolean;
  azAffinity?: boolean;
  weights?: string;
  exclude?: string[];
  poolMode?: string;
  poolSize?: string;
  maxDbConnections?: string;
  maxPreparedStatements?: string;
  slowStartMs?: string;
  /** `--writer-alias alias[=dbname]` */
  writerAlias?: string;
  writerPort?: string;
  writerPoolMode?: string;
  /** false: `--no-writer` (update: remove the writer endpoint). */
  writer?: boolean;
}

/** `--db alias` (dbname = alias) or `--db alias=dbname`. */
export function databasesFrom(values: string[] | undefined) {
  return values?.map((value) => {
    const at = value.indexOf('=');
    return at < 0
      ? { alias: value, dbname: value }
      : { alias: value.slice(0, at), dbname: value.slice(at + 1) };
  });
}

/** A decimal integer becomes a number; anything else stays text (and fails validation). */
export function integer(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  return /^-?\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : value;
}

export function optionsFrom(flags: ClusterOptionFlags): Record<string, unknown> | undefined {
  const options = dropUndefined({
    balance: flags.balance,
    checkMode: flags.checkMode,
    maxReplicaLagMs: integer(flags.maxReplicaLagMs),
    fallbackToWriter: flags.fallbackToWriter,
    azAffinity: flags.azAffinity,
    weights: flags.weights,
    excludeInstances: flags.exclude,
    poolMode: flags.poolMode,
    poolSize: integer(flags.poolSize),
    maxDbConnections: integer(flags.maxDbConnections),
    maxPreparedStatements: integer(flags.maxPreparedStatements),
    slowStartMs: integer(flags.slowStartMs),
    writer: writerFrom(flags),
  });
  return Object.keys(options).length > 0 ? options : undefined;
}

/**
 * The writer endpoint: `--writer-alias a[=db] --writer-port p [--writer-pool-mode m]` sends it
 * whole (an update replaces it whole; a missing part fails validation, naming the field);
 * `--no-writer` sends null (removes it).
 */
export function writerFrom(flags: ClusterOptionFlags): Record<string, unknown> | null | undefined {
  if (flags.writer === false) return null;
  if (
    flags.writerAlias === undefined &&
    flags.writerPort === undefined &&
    flags.writerPoolMode === undefined
  ) {
    return undefined;
  }
  const [database] =
    databasesFrom(flags.writerAlias === undefined ? undefined : [flags.writerAlias]) ?? [];
  return dropUndefined({
    alias: database?.alias,
    dbname: database?.dbname,
    port: integer(flags.writerPort),
    poolMode: flags.writerPoolMode,
  });
}

export function addRequest(clusterId: string, flags: ClusterOptionFlags & { force?: boolean }) {
  return dropUndefined({
    action: 'add',
    clusterId,
    port: integer(flags.port),
    databases: databasesFrom(flags.db),
    options: optionsFrom(flags),
    force: flags.force,
  });
}

export function updateRequest(clusterId: string, flags: ClusterOptionFlags & { version?: string }) {
  return dropUndefined({
    action: 'update',
    clusterId,
    version: integer(flags.version),
    port: integer(flags.port),
    databases: databasesFrom(flags.db),
    options: optionsFrom(flags),
  });
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}
