import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import { DEFAULT_HOST_PORTS } from '@aurora-haproxy/contract/host';
import type { AgentConfigInput, HostValues } from '../../agent/config';
import { installPostgresqlchk } from '../../agent/health/postgresqlchk-install';
import { installedInclude } from '../../agent/pgbouncer/host-include';
import { renderBundle } from '../../functions/render/render-bundle';
import type { FleetInstanceView, FleetView } from './aws-standin/fleet-view';
import { type LocalHaproxy, localHostValues, startLocalHaproxy } from './haproxy';
import { type LocalPgbouncer, startLocalPgbouncer } from './pgbouncer';
import { type ManagedProcess, startProcess } from './process/managed-process';
import { assertPortFree, freePort } from './process/ports';
import { runCommand } from './process/run-command';
import { waitFor } from './process/wait';

/**
 * The simulated HAProxy fleet: each instance is one "host" on this machine with its own
 * state dir, agent config, HAProxy master-worker (own run/socket dirs, own 127.0.0.x listen
 * address so cluster ports do not collide between hosts), PgBouncer on its own port and the
 * agent daemon (`aurora-haproxy-agent serve`). An instance boots like an EC2 instance of the
 * Auto Scaling group: Pending -> `aurora-haproxy-agent sync` (the current bundle, before
 * anything serves) -> HAProxy, PgBouncer, daemon -> InService. SSM commands run on it with
 * its environment (see commandEnv), the `aurora-haproxy-agent` on PATH being a wrapper of
 * the agent CLI.
 */
export interface FleetOptions {
  baseDir: string;
  groupName: string;
  /** The stack's DynamoDB table and endpoint (where agents read bundles). */
  tableName: string;
  dynamodbEndpoint: string;
  region: string;
  /**
   * The host reports table: each daemon reports its view there (key: a simulated instance
   * ARN) and appends its metrics to <instance dir>/logs/metrics.emf.
   */
  reportsTableName?: string;
  /** The RDS CA bundle stand-in: PgBouncer's server TLS and the daemon's probes verify with it. */
  rdsCaFile: string;
  /**
   * The certificate every host's PgBouncer presents to clients (what the operator names with
   * the clientTlsCertificate deploy parameter) and the CA clients verify it with; PgBouncer
   * then requires TLS from clients. Absent: plaintext clients (benchmarks' baseline only).
   */
  clientTls?: { certFile: string; keyFile: string; caFile: string };
  /** The agent entry the wrapper runs (a bundled .mjs, or agent/cli.ts with tsx). */
  agentCommand: readonly string[];
  /** Called with progress lines. */
  log?: (line: string) => void;
  /**
   * `ip:port` of the stack's DNS server: every host's nameserver setting (HAProxy's resolvers,
   * apply and the daemon ask it for endpoint names). Absent: the system resolver.
   */
  nameserver?: string;
}

export interface FleetInstance extends FleetInstanceView {
  index: number;
  dir: string;
  host: HostValues;
  configPath: string;
  pgbouncerPort: number;
  haproxy?: LocalHaproxy;
  pgbouncer?: LocalPgbouncer;
  daemon?: ManagedProcess;
  /** node-postgres TLS for a client of this host's PgBouncer (verify-ca); none: plaintext. */
  clientSsl?: ConnectionOptions;
  /** Result of the boot sync. */
  bootSync?: AgentResult | { ok: false; error: string };
}

/**
 * Hosts that follow rotating secrets as AWS hosts do (agent/secrets/): PgBouncer with
 * auth_type hba + scram-sha-256 against the userlist secret (the stack's own helper user
 * `postgres` stays trusted from loopback, and must be in the secret), probes logging in as
 * `probeUser` with the probe secret; both polled every `pollMs` from the Secrets Manager
 * stand-in at `endpoint`. Boot runs `aurora-haproxy-agent secrets-sync` first, as user data.
 */
export interface FleetSecrets {
  endpoint: string;
  userlistSecretId: string;
  probeSecretId: string;
  probeUser: string;
  pollMs?: number;
}

const INSTANCE_ID_PREFIX = 'i-0f1ee7';

export class Fleet implements FleetView {
  readonly groupName: string;
  readonly minSize = 1;
  readonly maxSize = 20;
  private readonly members: FleetInstance[] = [];
  private nextIndex = 1;
  /** Set before instances are added (the stand-in's endpoint is known only then). */
  secrets: FleetSecrets | undefined;

  constructor(private readonly options: FleetOptions) {
    this.groupName = options.groupName;
  }

  instances(): readonly FleetInstance[] {
    return this.members;
  }

  instance(instanceId: string): FleetInstance {
    const found = this.members.find((i) => i.instanceId === instanceId);
    if (!found) throw new Error(`no simulated instance ${instanceId}`);
    return found;
  }

  inService(): FleetInstance[] {
    return this.members.filter((i) => i.lifecycleState === 'InService');
  }

  /** Launch one instance: boot sync, then HAProxy, PgBouncer and the daemon; InService. */
  async addInstance(): Promise<FleetInstance> {
    const index = this.nextIndex++;
    const instanceId = `${INSTANCE_ID_PREFIX}${String(index).padStart(11, '0')}`;
    const listenAddress = await this.freeListenAddress();
    const dir = join(this.options.baseDir, 'fleet', instanceId);
    for (const sub of ['', 'etc', 'state', 'haproxy', 'pgbouncer', 'path', 'logs']) {
      mkdirSync(join(dir, sub), { recursive: true });
      chmodSync(join(dir, sub), 0o755);
    }
    const checkPort = await freePort();
    // The simulated host's zone, as instance metadata would give it (AZ affinity reads it).
    const az = ['us-east-1a', 'us-east-1b', 'us-east-1c'][(index - 1) % 3] ?? 'us-east-1a';
    const host = localHostValues(dir, listenAddress, checkPort, az, this.options.nameserver);
    const pgbouncerPort = await freePort(listenAddress);
    const configPath = join(dir, 'etc', 'agent.json');
    const instance: FleetInstance = {
      index,
      instanceId,
      az,
      lifecycleState: 'Pending',
      healthStatus: 'Healthy',
      ssmOnline: true,
      commandEnv: {},
      workDir: dir,
      dir,
      host,
      configPath,
      pgbouncerPort,
      ...(this.options.clientTls
        ? { clientSsl: verifyCa(readFileSync(this.options.clientTls.caFile)) }
        : {}),
    };
    instance.commandEnv = this.commandEnv(instance);
    this.writeAgentConfig(instance);
    this.writeWrapper(instance);
    installPostgresqlchk(host.binDir, checkPort);
    this.members.push(instance);
    try {
      await this.boot(instance);
    } catch (error) {
      await this.stopInstance(instance);
      this.members.splice(this.members.indexOf(instance), 1);
      throw error;
    }
    return instance;
  }

  /**
   * A loopback address of its own for a new host: HAProxy binds the stats port and every
   * cluster port on it. Taken from a random start in 127.0.0.11-250, skipping addresses of
   * this fleet and any where the stats port is already bound (another stack on this machine).
   */
  private async freeListenAddress(): Promise<string> {
    const used = new Set(this.members.map((m) => m.host.listenAddress));
    const start = Math.floor(Math.random() * 240);
    for (let i = 0; i < 240; i++) {
      const address = `127.0.0.${11 + ((start + i) % 240)}`;
      if (used.has(address)) continue;
      try {
        await assertPortFree(DEFAULT_HOST_PORTS.haproxyStats, address);
        return address;
      } catch {
        /* taken by another stack: try the next one */
      }
    }
    throw new Error('no free loopback address 127.0.0.11-250 for a simulated host');
  }

  /** Scale in: Terminating, every process ended by PID, then gone from the group. */
  async removeInstance(instanceId: string): Promise<void> {
    const instance = this.instance(instanceId);
    instance.lifecycleState = 'Terminating';
    instance.ssmOnline = false;
    await this.stopInstance(instance);
    this.members.splice(this.members.indexOf(instance), 1);
  }

  /** Run the agent CLI on an instance as SSM would (its env, its dir). */
  async agent(
    instanceId: string,
    args: readonly string[],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const instance = this.instance(instanceId);
    return runCommand(join(instance.dir, 'path', 'aurora-haproxy-agent'), args, {
      env: instance.commandEnv,
      cwd: instance.dir,
      timeout: 120_000,
    });
  }

  /** Stop an instance's HAProxy (fault injection: its next apply fails). */
  async stopHaproxy(instanceId: string): Promise<void> {
    const instance = this.instance(instanceId);
    await instance.haproxy?.stop();
    instance.haproxy = undefined;
  }

  /** Start it again from the config on disk (what systemd would do). */
  async startHaproxy(instanceId: string): Promise<void> {
    const instance = this.instance(instanceId);
    if (instance.haproxy?.running()) return;
    instance.haproxy = await startLocalHaproxy({
      dir: join(instance.dir, 'haproxy'),
      configPath: join(instance.dir, 'etc', 'haproxy.cfg'),
      host: instance.host,
    });
  }

  /** Stop an instance's agent daemon (fault injection: it stops checking and reporting). */
  async stopDaemon(instanceId: string): Promise<void> {
    const instance = this.instance(instanceId);
    await instance.daemon?.stop();
    instance.daemon = undefined;
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((i) => this.stopInstance(i)));
    this.members.length = 0;
  }

  private async boot(instance: FleetInstance): Promise<void> {
    const log = this.options.log ?? (() => undefined);
    const haproxyCfg = join(instance.dir, 'etc', 'haproxy.cfg');
    const databasesIni = join(instance.dir, 'etc', 'pgbouncer-databases.ini');
    // Boot sync: the current desired bundle is installed before anything serves.
    const sync = await this.agent(instance.instanceId, ['sync']);
    instance.bootSync = parseResult(sync.stdout) ?? {
      ok: false,
      error: sync.stderr.trim().slice(-500),
    };
    log(
      `${instance.instanceId}: boot sync ${instance.bootSync.ok ? ('note' in instance.bootSync && instance.bootSync.note) || 'ok' : `did not apply (${instance.bootSync.error})`}`,
    );
    if (!existsSync(haproxyCfg)) {
      // Nothing desired yet (a fresh stack): start from the empty bundle, as a new host would.
      const empty = renderBundle({ clusters: [], topologies: new Map() }, new Date());
      writeFileSync(haproxyCfg, empty.files.haproxy);
      writeFileSync(databasesIni, installedInclude(empty, instance.host));
    }
    instance.haproxy = await startLocalHaproxy({
      dir: join(instance.dir, 'haproxy'),
      configPath: haproxyCfg,
      host: instance.host,
    });
    await assertPortFree(instance.pgbouncerPort, instance.host.listenAddress);
    let userlist: string | undefined;
    if (this.secrets) {
      const sync = await this.agent(instance.instanceId, ['secrets-sync']);
      if (sync.code !== 0)
        throw new Error(`${instance.instanceId}: secrets-sync failed: ${sync.stdout}`);
      userlist = readFileSync(join(instance.dir, 'pgbouncer', 'userlist.txt'), 'utf8');
    }
    instance.pgbouncer = await startLocalPgbouncer({
      ...(userlist ? { userlist, trustedUsers: ['postgres'] } : {}),
      dir: join(instance.dir, 'pgbouncer'),
      listenAddress: instance.host.listenAddress,
      port: instance.pgbouncerPort,
      socketDir: instance.host.socketDir,
      databasesFile: databasesIni,
      // Room for the pooled-balance test (60 server connections over 2 hosts).
      defaultPoolSize: 40,
      serverTls: { caFile: this.options.rdsCaFile },
      clientTls: this.options.clientTls,
    });
    instance.daemon = startProcess({
      name: `agent-serve-${instance.instanceId}`,
      command: join(instance.dir, 'path', 'aurora-haproxy-agent'),
      args: ['serve'],
      env: instance.commandEnv,
      cwd: instance.dir,
      logFile: join(instance.dir, 'logs', 'agent-serve.log'),
    });
    const daemon = instance.daemon;
    await waitFor(
      `${instance.instanceId} health daemon on 127.0.0.1:${instance.host.checkPort}`,
      async () => {
        if (!daemon.running)
          throw new Error(
            `agent serve exited; see ${join(instance.dir, 'logs', 'agent-serve.log')}`,
          );
        return isListening(instance.host.checkPort);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    instance.lifecycleState = 'InService';
    log(
      `${instance.instanceId}: InService (${instance.host.listenAddress}, PgBouncer :${instance.pgbouncerPort})`,
    );
  }

  private async stopInstance(instance: FleetInstance): Promise<void> {
    await Promise.all([
      instance.daemon?.stop(),
      instance.pgbouncer?.stop(),
      instance.haproxy?.stop(),
    ]);
    instance.daemon = undefined;
    instance.pgbouncer = undefined;
    instance.haproxy = undefined;
  }

  private commandEnv(instance: FleetInstance): Record<string, string> {
    return {
      PATH: `${join(instance.dir, 'path')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: instance.dir,
      LANG: 'C.UTF-8',
      AURORA_HAPROXY_AGENT_CONFIG: instance.configPath,
      AWS_REGION: this.options.region,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: this.options.dynamodbEndpoint,
      ...(this.secrets ? { AWS_ENDPOINT_URL_SECRETS_MANAGER: this.secrets.endpoint } : {}),
    };
  }

  private writeAgentConfig(instance: FleetInstance): void {
    const secrets = this.secrets;
    const config: AgentConfigInput = {
      stateDir: join(instance.dir, 'state'),
      bundleSource: {
        tableName: this.options.tableName,
        region: this.options.region,
        endpoint: this.options.dynamodbEndpoint,
      },
      haproxy: {
        configPath: join(instance.dir, 'etc', 'haproxy.cfg'),
        masterSocket: join(instance.dir, 'haproxy', 'master.sock'),
        host: instance.host,
      },
      pgbouncer: {
        databasesPath: join(instance.dir, 'etc', 'pgbouncer-databases.ini'),
        ...(secrets
          ? {
              userlist: {
                secretId: secrets.userlistSecretId,
                region: this.options.region,
                path: join(instance.dir, 'pgbouncer', 'userlist.txt'),
                pollMs: secrets.pollMs,
              },
            }
          : {}),
        // The unix socket: the admin console needs no TLS there when clients must use it.
        admin: {
          host: instance.host.socketDir,
          port: instance.pgbouncerPort,
          user: 'pgbouncer',
        },
      },
      health: {
        checkPort: instance.host.checkPort,
        checkAddress: '127.0.0.1',
        stateDir: join(instance.dir, 'state'),
        statsSocketPath: join(instance.host.runDir, 'admin.sock'),
        user: secrets?.probeUser ?? 'postgres',
        database: 'postgres',
        credentials: secrets
          ? {
              mode: 'secret',
              secretId: secrets.probeSecretId,
              region: this.options.region,
              pollMs: secrets.pollMs,
            }
          : { mode: 'none' },
        tls: { mode: 'verify-full', caBundlePath: this.options.rdsCaFile },
      },
      ...(this.options.reportsTableName
        ? {
            report: {
              tableName: this.options.reportsTableName,
              region: this.options.region,
              endpoint: this.options.dynamodbEndpoint,
              instanceArn: simulatedInstanceArn(this.options.region, instance.instanceId),
              metrics: {
                emfPath: emfPathOf(instance),
                fleet: this.groupName,
                // Gauges every 5 s here (60 s on AWS) so tests and the demo see them soon.
                flushMs: 5_000,
              },
            },
          }
        : {}),
    };
    writeFileSync(instance.configPath, `${JSON.stringify(config, null, 2)}\n`);
  }

  /** `aurora-haproxy-agent` on the instance's PATH: the agent CLI with this node. */
  private writeWrapper(instance: FleetInstance): void {
    const path = join(instance.dir, 'path', 'aurora-haproxy-agent');
    const command = [process.execPath, ...this.options.agentCommand].map(shellQuote).join(' ');
    writeFileSync(path, `#!/bin/sh\nexec ${command} "$@"\n`, { mode: 0o755 });
  }
}

/**
 * sslmode verify-ca for node-postgres: the chain must lead to `ca`; the name is not checked
 * (clients reach a simulated host by its 127.0.0.x address, the certificate names the fleet
 * endpoint, as the NLB's DNS name would be in AWS).
 */
export function verifyCa(ca: Buffer): ConnectionOptions {
  return { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
}

/** The ARN a simulated instance reports under (the account id of the local stack). */
export function simulatedInstanceArn(region: string, instanceId: string): string {
  return `arn:aws:ec2:${region}:000000000000:instance/${instanceId}`;
}

/** Where a simulated host's daemon appends its EMF metric lines. */
export function emfPathOf(instance: { dir: string }): string {
  return join(instance.dir, 'logs', 'metrics.emf');
}

/** Something accepts connections on 127.0.0.1:port (a bind attempt fails). */
async function isListening(port: number): Promise<boolean> {
  try {
    await assertPortFree(port);
    return false;
  } catch {
    return true;
  }
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./=:-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The agent's one JSON result line (the last line of stdout that parses). */
export function parseResult(stdout: string): AgentResult | undefined {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      const value = JSON.parse(line) as AgentResult;
      if (typeof value === 'object' && value !== null && 'ok' in value) return value;
    } catch {
      /* not the result line */
    }
  }
  return undefined;
}

/**
 * The agent as one ESM file (as it ships to hosts), built with esbuild into `outDir`, so each
 * SSM command starts one plain `node` process; returns the wrapper's arguments after node.
 */
export async function bundleAgent(repoRoot: string, outDir: string): Promise<string[]> {
  const { build } = await import('esbuild');
  const outfile = join(outDir, 'aurora-haproxy-agent.mjs');
  await build({
    entryPoints: [join(repoRoot, 'agent', 'cli.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'silent',
    // CommonJS dependencies (pg, the AWS SDK) need `require` inside an ES module.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  return [outfile];
}
