import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetInstance } from '../../packages/local-stack/fleet';
import { waitFor } from '../../packages/local-stack/process/wait';
import { LocalStack, ROTATING_SECRETS } from '../../packages/local-stack/stack';
import { backendStatus } from '../../packages/local-stack/stack-probes';
import { type PgbenchRun, startPgbench } from '../bench/lib/pgbench';
import { ALIAS, CLUSTER, initPgbench, onPrimary, registerCluster } from './support';

/**
 * A secret rotation reaching both hosts of the local stack under load: the probe role's
 * password changed on the cluster (ALTER ROLE), then new versions of the probe secret and the
 * userlist secret put to the Secrets Manager stand-in. Each host's daemon (20 s poll, the
 * production default) switches its probes make-before-break and rewrites PgBouncer's
 * auth_file + RELOAD. pgbench through both hosts runs throughout: 0 failed transactions; every
 * reader stays UP; the new client password logs in, the old one is refused. The time from
 * PutSecretValue to each host using each version is taken from the daemon's own log line.
 */
const R = ROTATING_SECRETS;
let stack: LocalStack;
let client: SecretsManagerClient;

interface InUse {
  host: string;
  secret: string;
  ms: number;
}

/** When the host's daemon logged `versionId` of `secret` in use (its log, epoch ms). */
function inUseAt(instance: FleetInstance, secret: string, versionId: string): number | undefined {
  const text = readFileSync(join(instance.dir, 'logs', 'agent-serve.log'), 'utf8');
  for (const line of text.split('\n')) {
    if (!line.includes(versionId)) continue;
    try {
      const entry = JSON.parse(line) as { time: string; message: string; secret: string };
      if (entry.message === 'secret version in use' && entry.secret === secret) {
        return Date.parse(entry.time);
      }
    } catch {
      /* not a log line */
    }
  }
  return undefined;
}

async function login(instance: FleetInstance, password: string): Promise<string> {
  const c = new pg.Client({
    host: instance.host.listenAddress,
    port: instance.pgbouncerPort,
    user: R.clientUser,
    password,
    database: ALIAS,
    // TLS, as every host requires from clients (verify-ca against the stack's client CA).
    ...(instance.clientSsl ? { ssl: instance.clientSsl } : {}),
    connectionTimeoutMillis: 5_000,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return 'accepted';
  } catch (error) {
    return `refused: ${errorMessage(error)}`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe('secret rotation on the local stack', () => {
  beforeAll(async () => {
    stack = await LocalStack.start({
      clusters: [{ clusterId: CLUSTER, replicas: 2 }],
      instances: 2,
      rotatingSecrets: {},
    });
    await registerCluster(stack);
    await initPgbench(stack);
    // pgbench's tables live in the application database: the grant must run there.
    await onPrimary(stack, (admin) =>
      admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${R.clientUser}`),
    );
    await stack.cluster(CLUSTER).waitForReplication();
    client = new SecretsManagerClient({
      endpoint: stack.aws.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await stack?.stop();
  });

  it('reaches both hosts with 0 failed transactions, readers UP, new password in, old refused', async () => {
    // Prepare
    const hosts = stack.fleet.inService();
    expect(hosts).toHaveLength(2);
    for (const h of hosts) expect(await login(h, R.clientPassword)).toBe('accepted');
    const benches = hosts.map((h) =>
      startPgbench({
        host: h.host.listenAddress,
        port: h.pgbouncerPort,
        database: ALIAS,
        clients: 3,
        seconds: 300,
        user: R.clientUser,
        password: R.clientPassword,
      }),
    );
    const notUp: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const h of hosts) {
          const status = await backendStatus(h, `aurora-${CLUSTER}`);
          const up = [...status.entries()].filter(([, s]) => s === 'UP').length;
          if (up < 2) notUp.push(`${h.instanceId}: ${JSON.stringify(Object.fromEntries(status))}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    let runs: PgbenchRun[] = [];
    try {
      // Not a wait for a condition: traffic on both hosts before the rotation, so the window
      // holds sessions opened with the old secrets (the count of failed transactions covers it).
      await new Promise((r) => setTimeout(r, 3_000));
      const pgCluster = stack.cluster(CLUSTER);
      await pgCluster.query(
        pgCluster.primary().name,
        `ALTER ROLE ${R.probeUser} PASSWORD 'probe-pass-2'`,
      );
      await pgCluster.waitForReplication();
      stack.aws.secrets.faults.resetCounts();

      // Act
      const putAt = Date.now();
      const probeVersion = (
        await client.send(
          new PutSecretValueCommand({
            SecretId: R.probeSecretId,
            SecretString: JSON.stringify({ username: R.probeUser, password: 'probe-pass-2' }),
          }),
        )
      ).VersionId as string;
      const userlistVersion = (
        await client.send(
          new PutSecretValueCommand({
            SecretId: R.userlistSecretId,
            SecretString: `"${R.clientUser}" "client-pass-2"\n"postgres" "${R.helperPassword}"\n`,
          }),
        )
      ).VersionId as string;
      const inUse: InUse[] = [];
      for (const h of hosts) {
        for (const [secret, version] of [
          ['probe', probeVersion],
          ['userlist', userlistVersion],
        ] as const) {
          const at = await waitFor(
            `${h.instanceId} to use ${secret} version ${version}`,
            () => inUseAt(h, secret, version),
            { timeoutMs: 90_000, intervalMs: 200 },
          );
          inUse.push({ host: h.instanceId, secret, ms: at - putAt });
        }
      }
      const windowMs = Date.now() - putAt;
      const reads = stack.aws.secrets.faults.calls().GetSecretValue ?? 0;
      const newLogins = await Promise.all(hosts.map((h) => login(h, 'client-pass-2')));
      const oldLogins = await Promise.all(hosts.map((h) => login(h, R.clientPassword)));
      // Traffic after both hosts use the new versions: sessions across the RELOAD must not fail.
      await new Promise((r) => setTimeout(r, 2_000));
      runs = await Promise.all(benches.map((b) => b.stop()));
      sampling = false;
      await sampler;

      // Assess
      console.log(
        `[rotation] PutSecretValue -> in use: ${inUse.map((u) => `${u.host} ${u.secret} ${(u.ms / 1000).toFixed(1)} s`).join(', ')}; ` +
          `${reads} GetSecretValue calls in ${(windowMs / 1000).toFixed(1)} s for 2 hosts x 2 secrets; ` +
          `pgbench ${runs.map((r) => `${r.processed} tx, ${r.failed} failed, ${r.abortedClients} aborted`).join(' / ')}`,
      );
      expect(newLogins).toEqual(['accepted', 'accepted']);
      for (const old of oldLogins) expect(old).toMatch(/^refused: .*authentication failed/);
      for (const run of runs) {
        expect(run.failed, run.stderrTail).toBe(0);
        expect(run.abortedClients, run.stderrTail).toBe(0);
        expect(run.processed).toBeGreaterThan(0);
      }
      expect(notUp).toEqual([]);
      expect(inUse).toHaveLength(4);
    } finally {
      sampling = false;
      await sampler;
      if (runs.length === 0) await Promise.all(benches.map((b) => b.stop()));
    }
  });

  it('a userlist version that does not parse changes nothing on either host, and status says why', async () => {
    // Act
    const bad = (
      await client.send(
        new PutSecretValueCommand({
          SecretId: R.userlistSecretId,
          SecretString: `"${R.clientUser}" "client-pass-3" trailing\n`,
        }),
      )
    ).VersionId as string;
    const problems = await waitFor(
      'every host report to show the refusal',
      async () => {
        const run = await stack.cli(['--json', 'clusters', 'status']);
        const result = JSON.parse(run.stdout) as { view?: { hosts: { problems: string[] }[] } };
        const hosts = result.view?.hosts ?? [];
        const refusals = hosts.flatMap((h) => h.problems.filter((p) => p.includes(bad)));
        return refusals.length === 2 ? refusals : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1_000 },
    );
    const text = (await stack.cli(['clusters', 'status'])).stdout;

    // Assess
    for (const p of problems) {
      expect(p).toMatch(
        /^userlist secret: line 1 is not "user" "password" .*; version \S+ of \S+ refused/,
      );
    }
    expect(text).toMatch(/^ {2}h1: userlist secret: line 1 is not "user" "password"/m);
    expect(text).toMatch(/^ {2}h2: userlist secret: line 1 is not "user" "password"/m);
    expect(text + problems.join('')).not.toContain('client-pass');
    for (const h of stack.fleet.inService()) {
      expect(await login(h, 'client-pass-2')).toBe('accepted');
    }
  });
});
