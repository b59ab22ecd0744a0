import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from '../process/remove-tree';
import { LocalStack, REPO_ROOT, TABLE_NAME } from '../stack';
import { BootHost, reapStaleHosts, run } from './boot-host';
import { type BootStandins, startBootStandins } from './boot-standins';

/**
 * The boot harness: the local stack (DynamoDB Local + table, simulated Aurora clusters with
 * TLS only from the stack's CA, the Lambdas), the boot stand-ins (instance metadata, S3, Secrets
 * Manager, Auto Scaling lifecycle, downloads), the agent artifact as infra/fleet/
 * build-agent-artifact.sh builds it, and hosts booted from the cached Debian root
 * (build-root.sh) with a real systemd. `userData()` is what the launch template sends: the
 * settings header (as infra/fleet/fleet.yml writes it) then infra/fleet/user-data.sh
 * unchanged; only the endpoint settings are added.
 */
export const REGION = 'us-east-1';
export const ASG_NAME = 'aurora-haproxy-local-fleet';
export const LIFECYCLE_HOOK = 'apply-current-bundle';
export const ARTIFACT_BUCKET = 'aurora-haproxy-artifacts';
export const ARTIFACT_KEY = 'agent/agent-artifact.tgz';
export const PROBE_SECRET = 'aurora-haproxy/probe';
export const USERLIST_SECRET = 'aurora-haproxy/pgbouncer-userlist';
/** The PgBouncer client the tests log in as (userlist secret; PostgreSQL trusts loopback). */
export const CLIENT = { user: 'postgres', password: 'boot-harness-client-pw' } as const;

export interface Settings {
  ARTIFACT_KEY: string;
  USERLIST_SECRET: string;
  PROBE_CREDENTIALS: string;
  /** Client TLS as the launch template writes it (fleet.yml): `require` or `disable`. */
  CLIENT_TLS: string;
  /** A secret or SSM parameter ARN holding PgBouncer's client certificate; '': generated. */
  CLIENT_TLS_CERTIFICATE: string;
}

export class BootHarness {
  readonly hosts: BootHost[] = [];
  private constructor(
    readonly dir: string,
    readonly rootDir: string,
    readonly stack: LocalStack,
    readonly standins: BootStandins,
    readonly nodeVersion: string,
    private readonly log: (line: string) => void,
  ) {}

  static async start(log: (line: string) => void = () => undefined): Promise<BootHarness> {
    const rootDir = (
      await runOk('bash', [join(REPO_ROOT, 'packages/local-stack/boot/build-root.sh')], 1_200_000)
    )
      .trim()
      .split('\n')
      .pop() as string;
    reapStaleHosts(tmpdir());
    const dir = mkdtempSync(join(tmpdir(), 'aurora-haproxy-boot-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'owner.pid'), String(process.pid));
    const cleanups: (() => Promise<void> | void)[] = [
      // Never throws: a failed removal must not replace the error that started the cleanup.
      () => removeTree(dir),
    ];
    try {
      const downloads = join(dir, 'downloads');
      const nodeVersion = (
        await runOk(
          'bash',
          [join(REPO_ROOT, 'packages/local-stack/boot/build-downloads.sh'), downloads],
          300_000,
        )
      ).trim();
      const artifact = join(dir, 'agent-artifact.tgz');
      await runOk(
        'bash',
        [join(REPO_ROOT, 'infra/fleet/build-agent-artifact.sh'), artifact],
        300_000,
      );
      const standins = await startBootStandins(REGION);
      cleanups.push(() => standins.close());
      const stack = await LocalStack.start({
        clusters: [{ clusterId: 'orders', replicas: 2 }],
        instances: 0,
        // Endpoint names served by the stack's DNS server, the hosts' NAMESERVER setting.
        baseDir: join(dir, 'stack'),
        log,
      });
      cleanups.push(() => stack.stop());
      const nodeTar = `node-${nodeVersion}-linux-arm64.tar.xz`;
      standins.downloads.set(
        `node/${nodeVersion}/${nodeTar}`,
        readFileSync(join(downloads, nodeTar)),
      );
      standins.downloads.set(
        `node/${nodeVersion}/SHASUMS256.txt`,
        readFileSync(join(downloads, 'SHASUMS256.txt')),
      );
      standins.downloads.set(
        'amazon-ssm-agent.deb',
        readFileSync(join(downloads, 'amazon-ssm-agent.deb')),
      );
      standins.downloads.set(
        'amazon-cloudwatch-agent.deb',
        readFileSync(join(downloads, 'amazon-cloudwatch-agent.deb')),
      );
      // The stack's CA stands in for the RDS CA bundle (every simulated node's certificate).
      standins.downloads.set('rds-ca.pem', readFileSync(stack.rdsCaFile));
      standins.objects.set(`${ARTIFACT_BUCKET}/${ARTIFACT_KEY}`, readFileSync(artifact));
      standins.secrets.set(
        PROBE_SECRET,
        JSON.stringify({ username: 'postgres', password: 'probe-pw' }),
      );
      standins.secrets.set(USERLIST_SECRET, `"${CLIENT.user}" "${CLIENT.password}"`);
      return new BootHarness(dir, rootDir, stack, standins, nodeVersion, log);
    } catch (error) {
      for (const cleanup of cleanups.reverse())
        await Promise.resolve(cleanup()).catch(() => undefined);
      throw error;
    }
  }

  /** The launch template's user data: settings header, endpoint settings, then the script. */
  userData(overrides: Partial<Settings> = {}): string {
    const settings = {
      AWS_REGION: REGION,
      TABLE_NAME,
      ASG_NAME,
      LIFECYCLE_HOOK,
      ARTIFACT_BUCKET,
      ARTIFACT_KEY,
      NODE_VERSION: this.nodeVersion,
      PROBE_CREDENTIALS: PROBE_SECRET,
      PROBE_USER: 'postgres',
      USERLIST_SECRET,
      CLIENT_TLS: 'require',
      CLIENT_TLS_CERTIFICATE: '',
      HOST_REPORTS_TABLE: `${TABLE_NAME}-host-reports`,
      HOST_LOG_GROUP: '/aurora-haproxy/local/hosts',
      ...overrides,
    };
    const e = this.standins.endpoint;
    const endpoints = {
      // The AWS CLI (botocore) appends `latest/...` to it: it must end with a slash.
      AWS_EC2_METADATA_SERVICE_ENDPOINT: `${e}/`,
      AWS_ENDPOINT_URL_S3: e,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: e,
      AWS_ENDPOINT_URL_AUTO_SCALING: e,
      AWS_ENDPOINT_URL_DYNAMODB: this.stack.ddb.endpoint,
      NODE_DIST_URL: `${e}/downloads/node`,
      SSM_AGENT_URL: `${e}/downloads/amazon-ssm-agent.deb`,
      RDS_CA_URL: `${e}/downloads/rds-ca.pem`,
      CLOUDWATCH_AGENT_URL: `${e}/downloads/amazon-cloudwatch-agent.deb`,
      // The stack's DNS server: the host resolves the instance endpoint names RDS returns.
      ...(this.stack.dns ? { NAMESERVER: this.stack.dns.nameserver } : {}),
    };
    const line = ([k, v]: [string, string]) => `${k}='${v}'\n`;
    return [
      '#!/bin/bash\n',
      ...Object.entries(settings).map(line),
      ...Object.entries(endpoints).map(line),
      readFileSync(join(REPO_ROOT, 'infra/fleet/user-data.sh'), 'utf8'),
    ].join('');
  }

  /** A new host on a fresh copy of the cached root, booted (not yet configured). */
  async bootNewHost(instanceId: string): Promise<BootHost> {
    const host = new BootHost(this.rootDir, mkdtempSync(join(this.dir, 'host-')), this.log);
    this.hosts.push(host);
    host.mount();
    this.standins.instance.instanceId = instanceId;
    await host.boot();
    return host;
  }

  /** The desired pointer's sha once it differs from `not` (reconcile ran). */
  async desiredSha(not?: string, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sha = await this.stack.desiredSha();
      if (sha && sha !== not) return sha;
      if (Date.now() > deadline)
        throw new Error(`desired pointer did not move from ${not} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    for (const host of this.hosts) await host.destroy().catch(() => undefined);
    await this.standins.close().catch(() => undefined);
    await this.stack.stop().catch(() => undefined);
    removeTree(this.dir);
  }
}

async function runOk(file: string, args: string[], timeoutMs: number): Promise<string> {
  const out = await run(file, args, { timeoutMs });
  if (out.code !== 0)
    throw new Error(`${file} ${args.join(' ')} failed (${out.code}): ${out.stderr.slice(-2000)}`);
  return out.stdout;
}
