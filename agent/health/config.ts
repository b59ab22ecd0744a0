import { DEFAULT_HOST_PORTS } from '@aurora-haproxy/contract/host';
import { DATABASE_NAME, IPV4 } from '@aurora-haproxy/contract/patterns';
import * as z from 'zod';
import { NameserverSchema } from '../dns/nameserver';

/**
 * The health daemon's section of the agent config file (agent/config.ts embeds it as
 * `health`). Every field has a default that fits an AWS host; the local stack and tests
 * override ports and paths.
 */

/** How probes authenticate. Secrets never sit in this config, only where to get them. */
export const CredentialsConfigSchema = z.discriminatedUnion('mode', [
  /** No password (pg_hba trust): the local test stack only. */
  z.strictObject({ mode: z.literal('none') }),
  /** A pgpass-style file (host:port:db:user:password), refused unless mode 0600 or stricter. */
  z.strictObject({ mode: z.literal('pgpass'), path: z.string().startsWith('/') }),
  /** IAM database authentication: a token signed with the instance role, refreshed before expiry. */
  z.strictObject({ mode: z.literal('iam'), region: z.string().regex(/^[a-z0-9-]{1,30}$/) }),
  /**
   * A Secrets Manager secret holding JSON {username?, password}, polled every `pollMs`
   * +-25% (agent/secrets/watcher.ts): a rotation is in use within pollMs * 1.25 plus one
   * make-before-break connection per server. At most 40 s, so a rotation reaches every host
   * within 60 s.
   */
  z.strictObject({
    mode: z.literal('secret'),
    secretId: z.string().min(1).max(2048),
    region: z.string().regex(/^[a-z0-9-]{1,30}$/),
    pollMs: z.number().int().min(1000).max(40_000).default(20_000),
  }),
]);

export const TlsConfigSchema = z.discriminatedUnion('mode', [
  /** Plain TCP (the local stack). */
  z.strictObject({ mode: z.literal('disable') }),
  /** sslmode verify-full: the server certificate must chain to this CA bundle and name the host. */
  z.strictObject({ mode: z.literal('verify-full'), caBundlePath: z.string().startsWith('/') }),
]);

/** PgBouncer's admin console: a socket directory or a loopback address, and an admin user. */
const PgbouncerConsoleSchema = z.strictObject({
  host: z.string().regex(/^(?:\/[A-Za-z0-9._/-]*|127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/),
  port: z.number().int().min(1).max(65535),
  user: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/),
});

export const HealthConfigSchema = z
  .strictObject({
    /** 127.0.0.1 port of the check listener (tcp-check and postgresqlchk). */
    checkPort: z.number().int().min(1).max(65535).default(DEFAULT_HOST_PORTS.agentCheck),
    /** Address the check listener binds; loopback only. */
    checkAddress: z
      .string()
      .regex(/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/, 'must be a loopback address')
      .default('127.0.0.1'),
    /** Time between two probes of one server (jittered by +-20%). */
    probeIntervalMs: z.number().int().min(50).max(500).default(250),
    /** A verdict older than this fails: a probe that stopped answering cannot keep a server up. */
    freshnessMs: z.number().int().min(200).max(60_000).default(1500),
    /** Connect timeout and statement timeout of probes: a hung server fails fast. */
    connectTimeoutMs: z.number().int().min(100).max(30_000).default(1000),
    statementTimeoutMs: z.number().int().min(100).max(30_000).default(1000),
    /** Reconnect backoff: doubles from min to max while a server stays unreachable. */
    reconnectMinMs: z.number().int().min(10).max(60_000).default(100),
    reconnectMaxMs: z.number().int().min(10).max(300_000).default(5000),
    /** Agent state dir: <stateDir>/applied-bundle.json is the bundle probed. */
    stateDir: z.string().startsWith('/').default('/var/lib/aurora-haproxy'),
    /**
     * HAProxy's external-check path (AURORA_HAPROXY_BIN_DIR). When set, the daemon writes
     * <binDir>/check.conf (its address and port) at start, so postgresqlchk asks this daemon.
     */
    binDir: z.string().startsWith('/').optional(),
    /**
     * The DNS server probes resolve endpoint names with (`ip:port`; the agent's
     * haproxy.host.nameserver, the server HAProxy asks). Absent: the system resolver.
     */
    nameserver: NameserverSchema.optional(),
    /** HAProxy stats socket (runtime API) used to push verdict changes; absent: no push. */
    statsSocketPath: z.string().startsWith('/').optional(),
    /**
     * The NLB readiness endpoint (`GET /ready`: 200 once a bundle is applied and HAProxy
     * answers). Absent: not served (tests and the local stack run many daemons on one host).
     * In AWS: `{}` = 0.0.0.0:9877, reachable only from the NLB by security group.
     */
    readiness: z
      .strictObject({
        address: z.string().regex(IPV4).default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(DEFAULT_HOST_PORTS.agentReady),
        /** PgBouncer's admin console (defaults to the agent's pgbouncer.admin); absent: not checked. */
        pgbouncer: PgbouncerConsoleSchema.optional(),
      })
      .optional(),
    /**
     * PgBouncer's admin console (an admin_users user; the agent config fills in its
     * pgbouncer.admin): a writer endpoint's alias is PAUSEd there while no writer is elected
     * and RESUMEd once the new writer's slot is UP (writer-pause.ts). Absent: never paused.
     */
    pgbouncer: PgbouncerConsoleSchema.optional(),
    /**
     * The longest a writer alias stays paused with no writer elected; then it is RESUMEd and
     * clients get PgBouncer's own errors (failed server logins) instead of waiting longer.
     */
    writerPauseMaxMs: z.number().int().min(1_000).max(300_000).default(30_000),
    /** Database and user the probes log in as (a role with no privileges beyond CONNECT). */
    database: z.string().regex(DATABASE_NAME).default('postgres'),
    user: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/)
      .default('aurora_haproxy_health'),
    credentials: CredentialsConfigSchema.default({ mode: 'none' }),
    tls: TlsConfigSchema.default({ mode: 'disable' }),
  })
  .refine((c) => c.credentials.mode !== 'iam' || c.tls.mode === 'verify-full', {
    // RDS refuses IAM authentication without TLS, and the token must not cross the wire in clear.
    message: 'credentials mode iam needs tls mode verify-full',
    path: ['tls'],
  });

export type HealthConfig = z.infer<typeof HealthConfigSchema>;
export type HealthConfigInput = z.input<typeof HealthConfigSchema>;
export type CredentialsConfig = z.infer<typeof CredentialsConfigSchema>;
export type TlsConfig = z.infer<typeof TlsConfigSchema>;

export function parseHealthConfig(input: unknown): HealthConfig {
  return HealthConfigSchema.parse(input);
}
