import { chmodSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RESERVED_PORTS } from '@aurora-haproxy/contract/host';
import { keys } from '@aurora-haproxy/contract/table';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import hostReportsTable from '../../infra/host-reports-table.json';
import { type AwsStandin, startAwsStandin } from './aws-standin/aws-standin';
import {
  type InvocationRecord,
  type LambdaStandin,
  LocalFunctions,
  type LocalHandler,
  startLambdaStandin,
} from './aws-standin/lambda-standin';
import { loadSsmDocument } from './aws-standin/ssm-document';
import { type LocalDnsServer, startLocalDns } from './dns-server';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local';
import { ENDPOINT_DOMAIN, instanceEndpointName } from './endpoint-names';
import { LocalEventBridge, type TopologyChange } from './eventbridge';
import { bundleAgent, Fleet } from './fleet';
import { postgresUser } from './pgbouncer';
import { requirePasswordFor } from './postgres-auth';
import { type PostgresCluster, startPostgresCluster } from './postgres-cluster';
import { stopAll } from './process/managed-process';
import { assertPortFree, freePort } from './process/ports';
import { removeTree } from './process/remove-tree';
import { runCommand } from './process/run-command';
import { LivePostgresSource } from './rds-standin/live-postgres-source';
import { type RdsStandin, startRdsStandin } from './rds-standin/rds-standin';
import { instanceIdFor, simulatedClusterNodes } from './rds-standin/simulated-nodes';
import { LocalCa } from './tls/local-ca';

/**
 * The whole loop on one machine: DynamoDB Local with the project table, simulated Aurora
 * clusters (the machine's PostgreSQL: primary + streaming replicas), the RDS / SSM / Auto
 * Scaling / Lambda stand-ins, the EventBridge stand-in delivering RDS events to the reconcile
 * handler, and the simulated fleet. The Lambda handlers run in this process with the Lambda
 * environment (TABLE_NAME, FLEET_ASG_NAME, …) and AWS_ENDPOINT_URL_* pointing at the stand-ins,
 * so every AWS call goes through the real SDK clients. All state lives under one temp dir;
 * every process is ended by PID in stop(), on failure, and on Ctrl-C.
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FUNCTION_NAMES = {
  admin: 'aurora-haproxy-local-admin',
  reconcile: 'aurora-haproxy-local-reconcile',
} as const;
export const SSM_DOCUMENT_NAME = 'aurora-haproxy-local-apply-bundle';
export const FLEET_ASG_NAME = 'aurora-haproxy-local-fleet';
export const TABLE_NAME = 'aurora-haproxy-local';
export const HOST_REPORTS_TABLE_NAME = 'aurora-haproxy-local-host-reports';
/** The name clients reach the fleet by (the NLB's DNS name in AWS); the client certificate's SAN. */
export const FLEET_ENDPOINT_NAME = 'aurora-haproxy-local-nlb.elb.us-east-1.amazonaws.test';
const REGION = 'us-east-1';

export interface SimulatedClusterSpec {
  clusterId: string;
  /** Readers (streaming replicas) at start. */
  replicas: number;
  /**
   * PostgreSQL node name (primary, replica1, …) -> the AvailabilityZone the RDS stand-in
   * reports for it; nodes not listed get one by their position (us-east-1a, 1b, 1c, …).
   */
  zones?: Readonly<Record<string, string>>;
}

/** The application database created on every simulated cluster (what aliases point at). */
export const APP_DATABASE = 'app';

export interface StackOptions {
  clusters?: SimulatedClusterSpec[];
  /** Simulated HAProxy instances (>= 1). */
  instances?: number;
  baseDir?: string;
  /** Keep the temp dir after stop (logs, configs). */
  keepFiles?: boolean;
  /** EventBridge schedule (the safety net) every this many ms; 0 = no schedule. */
  scheduleMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Powertools log level of the in-process handlers (default ERROR: quiet). */
  lambdaLogLevel?: string;
  /** Age past which `clusters status` shows a host's report as stale (default 30 s). */
  hostReportStaleMs?: number;
  /** Tear down and exit on SIGINT/SIGTERM (default true outside vitest). */
  handleSignals?: boolean;
  /** Extra postgresql.conf lines for every simulated Aurora node. */
  postgresExtraConf?: string[];
  /**
   * Instance endpoints as DNS names, as RDS returns them (default true): the stack runs its
   * DNS server (dns-server.ts), RDS describes `Endpoint.Address` as instanceEndpointName(id),
   * and every host's nameserver setting points at that server. false: IP literals (the
   * benchmark's baseline of the address-literal path).
   */
  dnsNames?: boolean;
  /**
   * Hosts follow rotating secrets from the Secrets Manager stand-in (ROTATING_SECRETS): the
   * userlist (client `app_client` with a password; `postgres` stays trusted for the stack's
   * helpers) and the probe secret (role `aurora_haproxy_probe`, asked for its password by
   * every node). Default: trust everywhere, no secrets.
   */
  rotatingSecrets?: { pollMs?: number };
}

/** The secrets and roles of a stack started with `rotatingSecrets`. */
export const ROTATING_SECRETS = {
  userlistSecretId: 'aurora-haproxy-local/pgbouncer-userlist',
  probeSecretId: 'aurora-haproxy-local/probe',
  clientUser: 'app_client',
  probeUser: 'aurora_haproxy_probe',
  /** Initial passwords (local stand-ins only; tests rotate them). */
  clientPassword: 'client-pass-1',
  probePassword: 'probe-pass-1',
  helperPassword: 'stack-helper-trusted',
} as const;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface FailoverResult {
  oldWriter: string;
  newWriter: string;
  /** Date.now() when the promoted replica left recovery. */
  promotedAt: number;
}

export class LocalStack {
  readonly functions = new LocalFunctions();
  readonly pg = new Map<string, PostgresCluster>();
  readonly rdsSource = new LivePostgresSource([], { cacheMs: 100 });
  ddb!: DynamoDbLocal;
  /** The stack's DNS server (absent with dnsNames: false). */
  dns?: LocalDnsServer;
  /** Endpoint name -> address the stack serves instead of the node's own (repointEndpoint). */
  private readonly endpointOverrides = new Map<string, string>();
  private publishing: Promise<void> = Promise.resolve();
  /**
   * `<clusterId>/<node name>` -> the instance id a node stands for when it is not the one
   * its name gives (a replacement), or null for a node that is no instance any more (the
   * replaced one, until it is retired).
   */
  private readonly identity = new Map<string, string | null>();
  rds!: RdsStandin;
  aws!: AwsStandin;
  lambda!: LambdaStandin;
  fleet!: Fleet;
  events!: LocalEventBridge;
  /** The Lambda environment the in-process handlers see. */
  readonly env: Record<string, string> = {};
  private readonly log: (line: string) => void;
  private stopped = false;
  private rdsCa?: LocalCa;
  private foreignCa?: LocalCa;
  private clientCertificate?: { certFile: string; keyFile: string; caFile: string };

  private constructor(
    readonly baseDir: string,
    private readonly options: StackOptions,
  ) {
    this.log = options.log ?? (() => undefined);
  }

  static async start(options: StackOptions = {}): Promise<LocalStack> {
    const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'aurora-haproxy-stack-'));
    mkdirSync(baseDir, { recursive: true });
    // PgBouncer and PostgreSQL run as user postgres and must reach their dirs below.
    chmodSync(baseDir, 0o755);
    const stack = new LocalStack(baseDir, options);
    if (!process.env.VITEST && options.handleSignals !== false) {
      // `on`, not `once`: Ctrl-C can arrive twice (the terminal's process group and a
      // wrapper such as tsx forwarding it); a second signal with no listener would end
      // this process at once and leave every child running.
      let stopping = false;
      const onSignal = () => {
        if (stopping) return;
        stopping = true;
        void stack.stop({ waitForHandlers: false }).finally(() => process.exit(130));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    // Last resort when the process exits before stop() ended (the process helpers SIGKILL
    // every child on exit): the temp dir goes too.
    process.once('exit', () => {
      if (!options.keepFiles) removeTree(baseDir);
    });
    try {
      await stack.startAll();
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  private async startAll(): Promise<void> {
    const { log } = this;
    const t0 = Date.now();
    log('starting DynamoDB Local and the simulated Aurora clusters');
    const clusters = this.options.clusters ?? [{ clusterId: 'orders', replicas: 2 }];
    if (this.options.dnsNames !== false) {
      this.dns = await startLocalDns({ dir: join(this.baseDir, 'dns') });
      log(`DNS server (dnsmasq) ${this.dns.nameserver} for *.${ENDPOINT_DOMAIN}`);
    }
    const [ddb] = await Promise.all([
      startDynamoDbLocal({ logDir: this.baseDir }),
      ...clusters.map((c) => this.addSimulatedCluster(c)),
    ]);
    this.ddb = ddb;
    await ddb.createTable(TABLE_NAME);
    await ddb.createTable(HOST_REPORTS_TABLE_NAME, hostReportsTable);
    log(
      `DynamoDB Local :${ddb.port}, table ${TABLE_NAME}; clusters ${clusters.map((c) => c.clusterId).join(', ')}`,
    );

    this.rds = await startRdsStandin(this.rdsSource);
    const document = await loadSsmDocument(
      SSM_DOCUMENT_NAME,
      join(REPO_ROOT, 'infra', 'ssm', 'apply-bundle.yml'),
    );
    this.fleet = new Fleet({
      baseDir: this.baseDir,
      groupName: FLEET_ASG_NAME,
      tableName: TABLE_NAME,
      reportsTableName: HOST_REPORTS_TABLE_NAME,
      dynamodbEndpoint: ddb.endpoint,
      region: REGION,
      rdsCaFile: this.rdsCaFile,
      clientTls: this.clientTls(),
      agentCommand: await bundleAgent(REPO_ROOT, join(this.baseDir, 'agent')),
      log,
      ...(this.dns ? { nameserver: this.dns.nameserver } : {}),
    });
    this.aws = await startAwsStandin({ fleet: this.fleet, documents: [document] });
    this.lambda = await startLambdaStandin(this.functions);
    this.setLambdaEnvironment();
    await this.registerHandlers();
    this.events = new LocalEventBridge(async (event) => {
      const record = await this.functions.invoke(FUNCTION_NAMES.reconcile, event, 'Event');
      if (record.error) log(`reconcile failed: ${record.error}`);
      return record;
    });
    log(
      `stand-ins: RDS ${this.rds.endpoint}, SSM+AutoScaling ${this.aws.endpoint}, Lambda ${this.lambda.endpoint}`,
    );

    if (this.options.rotatingSecrets) await this.setUpRotatingSecrets(this.options.rotatingSecrets);
    const instances = this.options.instances ?? 2;
    for (let i = 0; i < instances; i++) await this.fleet.addInstance();
    if (this.options.scheduleMs) this.events.startSchedule(this.options.scheduleMs);
    log(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s under ${this.baseDir}`);
  }

  /**
   * The stack's CA, standing in for the RDS CA bundle: every simulated Aurora node serves a
   * certificate from it whose subjectAltName is the node's instance endpoint name and address.
   */
  get rdsCaFile(): string {
    return this.rdsCaOf().caFile;
  }

  private rdsCaOf(): LocalCa {
    this.rdsCa ??= LocalCa.create(join(this.baseDir, 'rds-ca'), 'aurora-haproxy local RDS CA');
    return this.rdsCa;
  }

  /**
   * The certificate every host's PgBouncer presents to clients, as the operator names one
   * with the clientTlsCertificate deploy parameter: issued by "the operator's CA" (generated
   * here) for the fleet endpoint's name (FLEET_ENDPOINT_NAME, standing in for the NLB's DNS
   * name). Clients verify it with clientCaFile (sslmode=verify-ca; verify-full too when they
   * connect by that name).
   */
  private clientTls(): { certFile: string; keyFile: string; caFile: string } {
    if (!this.clientCertificate) {
      const ca = LocalCa.create(
        join(this.baseDir, 'client-ca'),
        'aurora-haproxy local operator CA',
      );
      const issued = ca.issue({
        name: 'pgbouncer-clients',
        dnsNames: [FLEET_ENDPOINT_NAME],
        ips: [],
        owner: postgresUser(),
      });
      this.clientCertificate = { ...issued, caFile: ca.caFile };
    }
    return this.clientCertificate;
  }

  /** The CA a client of the fleet verifies PgBouncer's certificate with. */
  get clientCaFile(): string {
    return this.clientTls().caFile;
  }

  /**
   * A reader starts presenting a certificate for its own name and address but from another
   * CA (a misconfigured or impostor server) from its next connection on; `restart` also ends
   * its current sessions (stop + start), so every client meets the new certificate.
   */
  async presentForeignCertificate(
    clusterId: string,
    instanceId: string,
    options: { restart?: boolean } = {},
  ): Promise<void> {
    const cluster = this.cluster(clusterId);
    const node = cluster.nodes().find((n) => this.instanceIdOf(clusterId, n.name) === instanceId);
    if (!node) throw new Error(`no instance ${instanceId} in ${clusterId}`);
    this.foreignCa ??= LocalCa.create(join(this.baseDir, 'foreign-ca'), 'not the RDS CA');
    const certificate = this.foreignCa.issue({
      name: instanceId,
      dnsNames: [instanceEndpointName(instanceId)],
      ips: [node.host],
      owner: postgresUser(),
    });
    await cluster.presentCertificate(node.name, certificate, this.foreignCa.caFile);
    if (options.restart) {
      await cluster.stopNode(node.name, 'fast');
      await cluster.startNode(node.name);
    }
    this.rdsSource.invalidate();
  }

  private async setUpRotatingSecrets(options: { pollMs?: number }): Promise<void> {
    const r = ROTATING_SECRETS;
    for (const pg of this.pg.values()) {
      const primary = pg.primary().name;
      await pg.query(primary, `CREATE ROLE ${r.clientUser} LOGIN`);
      await pg.query(primary, `CREATE ROLE ${r.probeUser} LOGIN PASSWORD '${r.probePassword}'`);
      await pg.waitForReplication();
      await requirePasswordFor(pg, r.probeUser);
    }
    this.aws.secrets.set(
      r.userlistSecretId,
      `"${r.clientUser}" "${r.clientPassword}"\n"postgres" "${r.helperPassword}"\n`,
    );
    this.aws.secrets.set(
      r.probeSecretId,
      JSON.stringify({ username: r.probeUser, password: r.probePassword }),
    );
    this.fleet.secrets = {
      endpoint: this.aws.endpoint,
      userlistSecretId: r.userlistSecretId,
      probeSecretId: r.probeSecretId,
      probeUser: r.probeUser,
      pollMs: options.pollMs,
    };
  }

  /** Start a simulated Aurora cluster and make the RDS stand-in describe it. */
  async addSimulatedCluster(spec: SimulatedClusterSpec): Promise<PostgresCluster> {
    const cluster = await startPostgresCluster({
      replicas: spec.replicas,
      baseDir: join(this.baseDir, 'aurora', spec.clusterId),
      extraConf: this.options.postgresExtraConf,
      tls: {
        ca: this.rdsCaOf(),
        dnsNames: (nodeName) => [instanceEndpointName(instanceIdFor(spec.clusterId, nodeName))],
      },
    });
    // The application's database, apart from `postgres` where the health probes log in, so
    // tests can count the application's connections per reader.
    await cluster.query(cluster.primary().name, `CREATE DATABASE ${APP_DATABASE}`);
    await cluster.waitForReplication();
    this.pg.set(spec.clusterId, cluster);
    const zones = spec.zones ?? {};
    await this.publishEndpoints();
    this.rdsSource.addCluster(
      simulatedClusterNodes(
        spec.clusterId,
        cluster,
        (node) => {
          const id = this.instanceIdOf(spec.clusterId, node.name);
          return {
            ...(zones[node.name] !== undefined ? { az: zones[node.name] } : {}),
            ...(this.dns && id ? { endpointAddress: instanceEndpointName(id) } : {}),
          };
        },
        (node) => this.instanceIdOf(spec.clusterId, node.name),
      ),
    );
    return cluster;
  }

  /** The instance id a node of a simulated cluster stands for (undefined: none any more). */
  instanceIdOf(clusterId: string, nodeName: string): string | undefined {
    const key = `${clusterId}/${nodeName}`;
    if (!this.identity.has(key)) return instanceIdFor(clusterId, nodeName);
    return this.identity.get(key) ?? undefined;
  }

  /**
   * An instance replaced behind its endpoint name, as when Aurora moves an instance to a new
   * host: a new replica at `address` and the instance's port takes over the instance id, the
   * name is re-pointed to it (resolves once the DNS server answers it), and RDS describes the
   * same instance, name and port as before. The old node keeps running (its sessions too) until
   * retireReplaced(); returns both node names and when the DNS server answered the new address.
   */
  async readdressInstance(
    clusterId: string,
    instanceId: string,
    address: string,
  ): Promise<{ replaced: string; replacement: string; repointedAt: number }> {
    if (!this.dns) throw new Error('the stack runs without DNS names (dnsNames: false)');
    const cluster = this.cluster(clusterId);
    const old = cluster.nodes().find((n) => this.instanceIdOf(clusterId, n.name) === instanceId);
    if (!old) throw new Error(`no instance ${instanceId} in ${clusterId}`);
    if (old.role !== 'replica') throw new Error(`${instanceId} is the writer; replace a reader`);
    const node = await cluster.addReplica({ host: address, port: old.port });
    // The new node was issued a certificate for its own node name; it now stands for
    // instanceId, so it presents that instance's name (as the replaced instance did).
    const rdsCa = this.rdsCaOf();
    await cluster.presentCertificate(
      node.name,
      rdsCa.issue({
        name: `${instanceId}-${node.name}`,
        dnsNames: [instanceEndpointName(instanceId)],
        ips: [address],
        owner: postgresUser(),
      }),
      rdsCa.caFile,
    );
    this.identity.set(`${clusterId}/${node.name}`, instanceId);
    this.identity.set(`${clusterId}/${old.name}`, null);
    await this.publishEndpoints();
    const repointedAt = Date.now();
    this.rdsSource.invalidate();
    return { replaced: old.name, replacement: node.name, repointedAt };
  }

  /** The replaced node goes away (fast shutdown: its sessions end). */
  async retireReplaced(clusterId: string, nodeName: string): Promise<void> {
    await this.cluster(clusterId).removeReplica(nodeName);
    this.identity.delete(`${clusterId}/${nodeName}`);
  }

  /**
   * The DNS records of every instance endpoint: name -> the node's address (or the address
   * repointEndpoint gave it). RDS creates an instance's record with the instance and deletes
   * it with the instance; the stack calls this after every change of its nodes.
   */
  publishEndpoints(): Promise<void> {
    // One at a time, each from the nodes as they are when it runs (clusters start in parallel).
    const run = this.publishing.then(() => this.publishNow());
    this.publishing = run.catch(() => undefined);
    return run;
  }

  private async publishNow(): Promise<void> {
    if (!this.dns) return;
    const records = new Map<string, string>();
    for (const [clusterId, cluster] of this.pg) {
      for (const node of cluster.nodes()) {
        const id = this.instanceIdOf(clusterId, node.name);
        if (id === undefined) continue;
        const name = instanceEndpointName(id);
        records.set(name, this.endpointOverrides.get(name) ?? node.host);
      }
    }
    await this.dns.setRecords(records);
  }

  /**
   * Point an instance's endpoint name at another address (an instance replaced behind its
   * name); resolves once the DNS server answers it. HAProxy follows within its resolvers'
   * `timeout resolve`.
   */
  async repointEndpoint(instanceId: string, address: string): Promise<void> {
    if (!this.dns) throw new Error('the stack runs without DNS names (dnsNames: false)');
    this.endpointOverrides.set(instanceEndpointName(instanceId), address);
    await this.publishEndpoints();
  }

  private setLambdaEnvironment(): void {
    Object.assign(this.env, {
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: this.ddb.endpoint,
      AWS_ENDPOINT_URL_RDS: this.rds.endpoint,
      AWS_ENDPOINT_URL_SSM: this.aws.endpoint,
      AWS_ENDPOINT_URL_AUTO_SCALING: this.aws.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: this.lambda.endpoint,
      TABLE_NAME,
      HOST_REPORTS_TABLE: HOST_REPORTS_TABLE_NAME,
      ...(this.options.hostReportStaleMs
        ? { HOST_REPORT_STALE_MS: String(this.options.hostReportStaleMs) }
        : {}),
      FLEET_ASG_NAME,
      SSM_DOCUMENT_NAME,
      RECONCILE_FUNCTION_NAME: FUNCTION_NAMES.reconcile,
      RESERVED_PORTS: DEFAULT_RESERVED_PORTS.join(','),
      LOG_LEVEL: this.options.lambdaLogLevel ?? 'ERROR',
      // EMF lines on stdout would only clutter the timeline; the stand-ins count API calls.
      POWERTOOLS_METRICS_DISABLED: 'true',
      AURORA_HAPROXY_ADMIN_FUNCTION: FUNCTION_NAMES.admin,
    });
    // The handlers and the CLI run in this process: they read this environment.
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;
    Object.assign(process.env, this.env);
  }

  /** The Lambda handlers, imported after the environment is set (clients at module scope). */
  private async registerHandlers(): Promise<void> {
    const admin = await import('../../functions/handlers/admin');
    this.functions.register(FUNCTION_NAMES.admin, admin.handler as unknown as LocalHandler, {
      concurrency: 10,
    });
    const reconcile = await import('../../functions/handlers/reconcile');
    this.functions.register(
      FUNCTION_NAMES.reconcile,
      reconcile.handler as unknown as LocalHandler,
      {
        concurrency: 1,
      },
    );
  }

  /** `aurora-haproxy …` through the admin path (CLI -> admin Lambda -> reconcile Lambda). */
  async cli(args: readonly string[]): Promise<CliRun> {
    const { runCli } = await import('../../functions/cli/main');
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      env: process.env,
    });
    return { code, stdout, stderr };
  }

  /**
   * The operator's command itself: `node bin/aurora-haproxy.js …` in a child process with the
   * stack's environment, so the request crosses the Lambda API (stand-in) to the admin handler.
   */
  async cliProcess(args: readonly string[]): Promise<CliRun> {
    return runCommand(process.execPath, [join(REPO_ROOT, 'bin', 'aurora-haproxy.js'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      timeout: 60_000,
    });
  }

  /** Run the reconcile function once, as the schedule would, and wait for it. */
  async reconcileNow(): Promise<InvocationRecord> {
    const record = (await this.events.tick()) as InvocationRecord;
    return record;
  }

  /** A port free on every simulated host's address (for a cluster's HAProxy listener). */
  async freeClusterPort(): Promise<number> {
    const addresses = this.fleet.instances().map((i) => i.host.listenAddress);
    for (;;) {
      const port = await freePort();
      if (port < 20000 || DEFAULT_RESERVED_PORTS.includes(port)) continue;
      try {
        for (const address of addresses) await assertPortFree(port, address);
        return port;
      } catch {
        /* taken on one host address: pick another */
      }
    }
  }

  /** The desired pointer's sha (undefined before the first reconcile). */
  async desiredSha(): Promise<string | undefined> {
    const client = this.ddb.client();
    try {
      const out = await client.send(
        new GetItemCommand({ TableName: TABLE_NAME, Key: marshallKey(keys.desired) }),
      );
      return out.Item?.sha256?.S;
    } finally {
      client.destroy();
    }
  }

  /** The sha each InService instance last applied (its <stateDir>/state.json). */
  appliedShas(): Map<string, string | undefined> {
    const out = new Map<string, string | undefined>();
    for (const instance of this.fleet.inService()) {
      try {
        const state = JSON.parse(
          readFileSync(join(instance.dir, 'state', 'state.json'), 'utf8'),
        ) as {
          appliedSha256?: string;
        };
        out.set(instance.instanceId, state.appliedSha256);
      } catch {
        out.set(instance.instanceId, undefined);
      }
    }
    return out;
  }

  /** Wait until every InService instance applied the desired sha (and it differs from `not`). */
  async waitForConvergence(options: { not?: string; timeoutMs?: number } = {}): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const desired = await this.desiredSha();
      if (desired && desired !== options.not) {
        const applied = [...this.appliedShas().values()];
        if (applied.length > 0 && applied.every((sha) => sha === desired)) return desired;
      }
      if (Date.now() > deadline) {
        const applied = Object.fromEntries(this.appliedShas());
        throw new Error(
          `fleet did not converge: desired ${desired}, applied ${JSON.stringify(applied)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Aurora-like failover: stop the writer, promote a replica, repoint the others, event. */
  async failover(clusterId: string, target?: string): Promise<FailoverResult> {
    const cluster = this.cluster(clusterId);
    const old = cluster.primary();
    const replica = target ? cluster.node(target) : cluster.replicas().find((r) => r.running);
    if (!replica) throw new Error(`cluster ${clusterId} has no running replica to promote`);
    const newWriter = instanceIdFor(clusterId, replica.name);
    void this.events.emit({ kind: 'failover-started', clusterId, targetInstanceId: newWriter });
    await cluster.stopNode(old.name);
    await cluster.promote(replica.name);
    const promotedAt = Date.now();
    await cluster.repoint(replica.name);
    this.rdsSource.invalidate();
    void this.emit({ kind: 'failover-completed', clusterId, newWriterInstanceId: newWriter });
    return { oldWriter: instanceIdFor(clusterId, old.name), newWriter, promotedAt };
  }

  /** A new reader (replica) joins the cluster; RDS says "DB instance created". */
  async addReader(clusterId: string): Promise<string> {
    const node = await this.cluster(clusterId).addReplica();
    await this.publishEndpoints();
    this.rdsSource.invalidate();
    const instanceId = instanceIdFor(clusterId, node.name);
    void this.emit({ kind: 'instance-created', instanceId });
    return instanceId;
  }

  /**
   * A reader is deleted as in Aurora: first it shows status `deleting` (RDS sends no event for
   * that; the schedule sees it), then it is gone and RDS says "DB instance deleted". With
   * `drainFirst` the stack runs a scheduled reconcile and waits for the fleet to converge
   * while the instance is `deleting`, before the node goes away.
   */
  async removeReader(
    clusterId: string,
    instanceId: string,
    options: { drainFirst?: boolean } = {},
  ): Promise<void> {
    const cluster = this.cluster(clusterId);
    const node = cluster.nodes().find((n) => instanceIdFor(clusterId, n.name) === instanceId);
    if (!node) throw new Error(`no instance ${instanceId} in ${clusterId}`);
    if (options.drainFirst) {
      const before = await this.desiredSha();
      this.rdsSource.setInstanceStatus(instanceId, 'deleting');
      await this.reconcileNow();
      await this.waitForConvergence({ not: before });
    }
    await cluster.removeReplica(node.name);
    this.rdsSource.setInstanceStatus(instanceId, undefined);
    this.rdsSource.invalidate();
    this.endpointOverrides.delete(instanceEndpointName(instanceId));
    await this.publishEndpoints();
    void this.emit({ kind: 'instance-deleted', instanceId });
  }

  /** Deliver the RDS event for a change (asynchronously, as EventBridge does). */
  emit(change: TopologyChange): Promise<unknown> {
    return this.events.emit(change);
  }

  cluster(clusterId: string): PostgresCluster {
    const cluster = this.pg.get(clusterId);
    if (!cluster) throw new Error(`no simulated cluster ${clusterId}`);
    return cluster;
  }

  /** Every reconcile run so far (results and errors). */
  reconcileRuns(): InvocationRecord[] {
    return this.functions.invocations.filter((i) => i.functionName === FUNCTION_NAMES.reconcile);
  }

  async stop(options: { waitForHandlers?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.events?.stopSchedule();
    // Let running handler invocations end (their SSM commands too) unless stopping on a signal.
    if (options.waitForHandlers !== false) await this.functions.idle().catch(() => undefined);
    await Promise.allSettled([
      this.fleet?.stop(),
      this.aws?.close(),
      this.rds?.close(),
      this.lambda?.close(),
      ...[...this.pg.values()].map((c) => c.stop()),
      this.ddb?.stop(),
      this.dns?.stop(),
    ]);
    // Anything this process started and still runs (a process of a half-started piece).
    await stopAll();
    if (!this.options.keepFiles) removeTree(this.baseDir);
  }
}

function marshallKey(key: { pk: string; sk: string }) {
  return { pk: { S: key.pk }, sk: { S: key.sk } };
}
