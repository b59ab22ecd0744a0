/**
 * Strict patterns for every value that may reach a config file (HAProxy, PgBouncer).
 * None of them admits whitespace, '#', quotes, '=', ';', '$', backslash or a newline,
 * so an accepted value cannot end its config line or start a new one.
 */

/** RDS identifier rules: letter first; letters, digits, hyphens; 1–63; no '--'; no trailing '-'. */
export const RDS_IDENTIFIER = /^[a-zA-Z](?:[a-zA-Z0-9]|-(?!-))*$/;
export const RDS_IDENTIFIER_MAX = 63;

export function isRdsIdentifier(value: string): boolean {
  return (
    value.length >= 1 &&
    value.length <= RDS_IDENTIFIER_MAX &&
    RDS_IDENTIFIER.test(value) &&
    !value.endsWith('-')
  );
}

/**
 * PgBouncer database alias: a lowercase SQL identifier (what clients type as dbname), at most
 * 63 bytes: PgBouncer's MAX_DBNAME is 64 bytes with the NUL, and a longer name ("too long db
 * name") fails the whole include. No quoting is ever needed ([0-9A-Za-z_.-] load unquoted),
 * and `*` (PgBouncer's fallback database) cannot match.
 */
export const DATABASE_ALIAS = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Names PgBouncer refuses as a [databases] key (src/loader.c check_reserved_database, 1.18 to
 * 1.24): `pgbouncer` is its admin console. PgBouncer answers such a line with "database name
 * is reserved" and stops loading the include there (at start: FATAL; at RELOAD: every alias
 * after it is gone), so one such alias breaks every cluster on every host.
 */
export const PGBOUNCER_RESERVED_DATABASES: readonly string[] = ['pgbouncer'];

/** Database name on the Aurora cluster: identifier characters and '-' only. */
export const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

/** A DNS host name as RDS returns for instance endpoints (lowercase labels). */
export const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Dotted-quad IPv4 (the local stack reports loopback addresses as endpoints). */
export const IPV4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function isServerAddress(value: string): boolean {
  return IPV4.test(value) || HOSTNAME.test(value);
}

/** RDS DB instance classes, e.g. db.r6g.large, db.serverless. */
export const INSTANCE_CLASS = /^db\.[a-z0-9]+(?:\.[a-z0-9]+)?$/;

/** Availability zone names, e.g. eu-west-1a, us-east-1-bos-1a. */
export const AVAILABILITY_ZONE = /^[a-z]{2}(?:-[a-z0-9]+)+$/;

/** Lowercase hex sha256. */
export const SHA256_HEX = /^[a-f0-9]{64}$/;
