import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { DEFAULT_HOST_PORTS, HOST_ENV } from '@aurora-haproxy/contract/host';
import { AVAILABILITY_ZONE, IPV4 } from '@aurora-haproxy/contract/patterns';
import * as z from 'zod';
import { NameserverSchema } from './dns/nameserver';
import { type HealthConfigInput, HealthConfigSchema } from './health/config';
import { ReportConfigSchema } from './report/config';

/**
 * The agent config file (/etc/aurora-haproxy/agent.json, or AURORA_HAPROXY_AGENT_CONFIG, or
 * --config). Host-local values only: the bundle is the same on every host. `haproxy.host`
 * holds the values of the HOST_ENV variables the HAProxy unit sets (the agent passes the same
 * values to `haproxy -c`, so the check sees what the running HAProxy sees).
 */
export const DEFAULT_CONFIG_PATH = '/etc/aurora-haproxy/agent.json';
export const CONFIG_PATH_ENV = 'AURORA_HAPROXY_AGENT_CONFIG';
const DEFAULT_STATE_DIR = '/var/lib/aurora-haproxy';

const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, 'must be an absolute path of [A-Za-z0-9._/-] characters');

export const HostValuesSchema = z.strictObject({
  listenAddress: z.string().regex(IPV4, 'must be an IPv4 address').default('127.0.0.1'),
  socketDir: absolutePath.default('/run/aurora-haproxy/sockets'),
  runDir: absolutePath.default('/run/aurora-haproxy'),
  checkPort: z.number().int().min(1).max(65535).default(DEFAULT_HOST_PORTS.agentCheck),
  binDir: absolutePath.default('/usr/local/lib/aurora-haproxy/bin'),
  /**
   * This host's Availability Zone (user-data writes it from instance metadata
   * placement/availability-zone); '' when unknown: clusters with azAffinity then prefer no
   * reader. It reaches HAProxy's environment, so it must be a zone name or nothing.
   */
  availabilityZone: z
    .string()
    .refine((az) => az === '' || AVAILABILITY_ZONE.test(az), {
      message: 'must be an Availability Zone name (e.g. eu-west-1a) or empty',
    })
    .default(''),
  /**
   * The DNS server that resolves Aurora endpoint names on this host, `ip` or `ip:port`: what
   * HAProxy's `aurora-dns` resolvers, apply and the health daemon ask. Absent (AWS): the
   * system resolver (/etc/resolv.conf: the VPC resolver). Set by the local stack and the boot
   * harness (user-data NAMESERVER) to their loopback DNS server.
   */
  nameserver: NameserverSchema.optional(),
});

const AgentConfigObjectSchema = z.strictObject({
  /** applied-bundle.json, state.json, apply.lock. */
  stateDir: absolutePath.default(DEFAULT_STATE_DIR),
  /** The project's DynamoDB table (bundles and the desired pointer). */
  bundleSource: z
    .strictObject({
      tableName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name'),
      region: z
        .string()
        .regex(/^[a-z0-9-]{1,30}$/)
        .optional(),
      /** Local stack only; in AWS the SDK's default endpoint. */
      endpoint: z.url().optional(),
    })
    .optional(),
  haproxy: z
    .strictObject({
      binary: absolutePath.default('/usr/sbin/haproxy'),
      configPath: absolutePath.default('/etc/haproxy/haproxy.cfg'),
      masterSocket: absolutePath.default('/run/haproxy-master.sock'),
      host: HostValuesSchema.prefault({}),
      /** How long a reload may take to show a new worker. */
      reloadTimeoutMs: z.number().int().min(500).max(120_000).default(15_000),
      /**
       * A reader removed through the runtime API is drained, PgBouncer moves its pooled
       * connections (RECONNECT), then it goes into maintenance once its sessions left, or after
       * this long (maintenance then shuts what is left, e.g. session-pooled clients).
       */
      drainTimeoutMs: z.number().int().min(0).max(600_000).default(5_000),
    })
    .prefault({}),
  pgbouncer: z
    .strictObject({
      /** Asked for its version (`-V`) when PgBouncer is not running. */
      binary: absolutePath.default('/usr/sbin/pgbouncer'),
      /** The [databases] file pgbouncer.ini %includes. */
      databasesPath: absolutePath.default('/etc/pgbouncer/aurora-haproxy-databases.ini'),
      /**
       * Client passwords from a Secrets Manager secret (userlist.txt format), followed by the
       * health daemon: polled every `pollMs` +-25%, a new version that parses is written to
       * `path` (pgbouncer.ini's auth_file) atomically and PgBouncer RELOADs
       * (agent/secrets/userlist-rotation.ts). Absent: the auth_file is left alone.
       */
      userlist: z
        .strictObject({
          secretId: z
            .string()
            .regex(/^[A-Za-z0-9/_+=.@:-]{1,2048}$/, 'must be a secret name or ARN'),
          region: z
            .string()
            .regex(/^[a-z0-9-]{1,30}$/)
            .optional(),
          path: absolutePath.default('/etc/pgbouncer/userlist.txt'),
          pollMs: z.number().int().min(1000).max(40_000).default(20_000),
        })
        .optional(),
      admin: z
        .strictObject({
          host: z
            .string()
            .regex(
              /^(?:\/[A-Za-z0-9._/-]*|127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/,
              'must be a loopback address or a socket directory',
            )
            .default('127.0.0.1'),
          port: z.number().int().min(1).max(65535).default(DEFAULT_HOST_PORTS.pgbouncer),
          user: z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/)
            .default('pgbouncer'),
        })
        .prefault({}),
    })
    .prefault({}),
  /**
   * The health daemon's section (agent/health/config.ts). Its stateDir, checkPort,
   * statsSocketPath and binDir (where postgresqlchk finds check.conf) default to the agent's
   * own values, so one file cannot disagree with itself.
   */
  health: HealthConfigSchema,
  /** Reporting this host's view and metrics (agent/report/config.ts); absent: none. */
  report: ReportConfigSchema.optional(),
});

export const AgentConfigSchema = z.preprocess(withHealthDefaults, AgentConfigObjectSchema);

function withHealthDefaults(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const input = raw as Record<string, unknown>;
  const host = (input.haproxy as { host?: Record<string, unknown> } | undefined)?.host ?? {};
  const hostDefaults = HostValuesSchema.parse({});
  const runDir = typeof host.runDir === 'string' ? host.runDir : hostDefaults.runDir;
  const health = input.health;
  if (health !== undefined && (health === null || typeof health !== 'object')) return raw;
  // The readiness endpoint checks PgBouncer through the agent's own admin console settings.
  const readiness = (health as { readiness?: unknown } | undefined)?.readiness;
  const pgbouncerConsole = {
    host: '127.0.0.1',
    port: DEFAULT_HOST_PORTS.pgbouncer,
    user: 'pgbouncer',
    ...(input.pgbouncer as { admin?: Record<string, unknown> } | undefined)?.admin,
  };
  const withPgbouncer =
    readiness !== null && typeof readiness === 'object' && !('pgbouncer' in readiness)
      ? { readiness: { ...readiness, pgbouncer: pgbouncerConsole } }
      : {};
  return {
    ...input,
    health: {
      stateDir: input.stateDir ?? DEFAULT_STATE_DIR,
      checkPort: host.checkPort ?? DEFAULT_HOST_PORTS.agentCheck,
      statsSocketPath: join(runDir, 'admin.sock'),
      binDir: host.binDir ?? hostDefaults.binDir,
      // Writer endpoints are paused in PgBouncer during a failover (health/writer-pause.ts).
      pgbouncer: pgbouncerConsole,
      ...(host.nameserver !== undefined ? { nameserver: host.nameserver } : {}),
      ...(health as Record<string, unknown> | undefined),
      ...withPgbouncer,
    },
  };
}

export type AgentConfig = z.infer<typeof AgentConfigObjectSchema>;
/** What the file may hold: `health` is optional (its defaults follow the agent's values). */
export type AgentConfigInput = Omit<z.input<typeof AgentConfigObjectSchema>, 'health'> & {
  health?: HealthConfigInput;
};
export type HostValues = z.infer<typeof HostValuesSchema>;

export class AgentConfigError extends Error {
  override readonly name = 'AgentConfigError';
}

/** HAProxy's stats socket and server-state file, as templates/haproxy.cfg.hbs names them. */
export function haproxyRunFiles(config: AgentConfig): {
  statsSocket: string;
  serverStateFile: string;
} {
  const { runDir } = config.haproxy.host;
  return { statsSocket: join(runDir, 'admin.sock'), serverStateFile: join(runDir, 'server-state') };
}

/** The HOST_ENV variables (name -> value) of this host. */
export function hostEnvironment(host: HostValues): Record<string, string> {
  return {
    [HOST_ENV.listenAddress]: host.listenAddress,
    [HOST_ENV.socketDir]: host.socketDir,
    [HOST_ENV.runDir]: host.runDir,
    [HOST_ENV.checkPort]: String(host.checkPort),
    [HOST_ENV.binDir]: host.binDir,
    [HOST_ENV.availabilityZone]: host.availabilityZone,
    // Only when set: the HAProxy config tests `defined(...)` to choose parse-resolv-conf.
    ...(host.nameserver !== undefined ? { [HOST_ENV.nameserver]: host.nameserver } : {}),
  };
}

export function parseAgentConfig(raw: unknown, source = 'agent config'): AgentConfig {
  const parsed = AgentConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new AgentConfigError(`${source} is invalid: ${problems}`);
  }
  return parsed.data;
}

export function configPathFrom(explicit: string | undefined, env = process.env): string {
  return explicit ?? env[CONFIG_PATH_ENV] ?? DEFAULT_CONFIG_PATH;
}

export function loadAgentConfig(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new AgentConfigError(`cannot read agent config ${path}: ${errorMessage(cause)}`, {
      cause,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new AgentConfigError(`agent config ${path} is not valid JSON`, { cause });
  }
  return parseAgentConfig(raw, `agent config ${path}`);
}
