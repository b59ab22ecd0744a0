import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { RecordingLog } from '@aurora-haproxy/test-support/recording';
import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HealthDaemon, runServe } from '../../../../agent/health/serve';
import {
  type AwsStandin,
  startAwsStandin,
} from '../../../../packages/local-stack/aws-standin/aws-standin';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import {
  createTestHost,
  freePort,
  registryCluster,
  renderFor,
  writeAppliedBundle,
} from '../health/fixture';
import { NO_FLEET, requirePassword, secretsClient } from './support';

/**
 * The probe credential rotated on a real PostgreSQL primary + 2 replicas whose pg_hba asks the
 * probe role for its password: ALTER ROLE, then a new secret version; the daemon proves a new
 * connection to every server before it drops the old one (make-before-break), so every slot
 * stays UP throughout. A version the servers refuse, or that does not parse, changes nothing.
 */
const SECRET = 'aurora-haproxy/test/probe';
const ROLE = 'probe_rotation';

interface ProbeBackend {
  node: string;
  pid: number;
  backendStart: Date;
}

describe('probe credential rotation on real PostgreSQL', () => {
  let postgres: PostgresCluster;
  let standin: AwsStandin;
  let client: SecretsManagerClient;
  let daemon: HealthDaemon;
  let bundle: Bundle;
  const logs = new RecordingLog();

  const put = async (value: unknown) =>
    (
      await client.send(
        new PutSecretValueCommand({
          SecretId: SECRET,
          SecretString: typeof value === 'string' ? value : JSON.stringify(value),
        }),
      )
    ).VersionId as string;

  /** The daemon's probe connections on every node (application_name aurora-haproxy-health). */
  const probeBackends = async (): Promise<ProbeBackend[]> => {
    const all: ProbeBackend[] = [];
    for (const node of postgres.nodes()) {
      const { rows } = await postgres.query<{ pid: number; backend_start: Date }>(
        node.name,
        "SELECT pid, backend_start FROM pg_stat_activity WHERE application_name = 'aurora-haproxy-health' AND usename = $1",
        [ROLE],
      );
      for (const r of rows)
        all.push({ node: node.name, pid: r.pid, backendStart: r.backend_start });
    }
    return all;
  };

  /** Sample every slot's verdict until `until` resolves; returns the failing samples. */
  const watchVerdicts = async (until: Promise<unknown>) => {
    const failing: string[] = [];
    let done = false;
    const finished = until.finally(() => {
      done = true;
    });
    while (!done) {
      for (const slot of daemon.status().slots) {
        if (!slot.pass) failing.push(`${slot.slot}: ${slot.reason}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    await finished;
    return failing;
  };

  beforeAll(async () => {
    postgres = await startPostgresCluster({ replicas: 2 });
    await postgres.query('primary', `CREATE ROLE ${ROLE} LOGIN PASSWORD 'first-pass'`);
    await postgres.waitForReplication();
    await requirePassword(postgres, ROLE);
    standin = await startAwsStandin({ fleet: NO_FLEET, documents: [] });
    standin.secrets.set(SECRET, JSON.stringify({ username: ROLE, password: 'first-pass' }));
    client = secretsClient(standin);
    const checkPort = await freePort();
    const host = createTestHost(checkPort);
    bundle = renderFor(postgres, registryCluster(await freePort(), { checkMode: 'agent' }));
    writeAppliedBundle(host.stateDir, bundle);
    daemon = await runServe(
      {
        checkPort,
        stateDir: host.stateDir,
        probeIntervalMs: 100,
        freshnessMs: 1000,
        statementTimeoutMs: 500,
        connectTimeoutMs: 1000,
        user: 'not_this_one',
        credentials: { mode: 'secret', secretId: SECRET, region: 'us-east-1', pollMs: 1_000 },
        // The nodes serve TLS only (hostssl): probes verify-full, as on a host.
        tls: { mode: 'verify-full', caBundlePath: postgres.caFile },
      },
      { log: logs, secretsManager: client },
    );
    await waitFor('every reader slot to pass with the first credential', () =>
      daemon
        .status()
        .slots.filter((s) => s.role !== 'writer')
        .every((s) => s.pass),
    );
  });
  afterAll(async () => {
    await daemon?.close();
    client?.destroy();
    await standin?.close();
    await postgres?.stop();
  });

  it('ALTER ROLE then a new version: every server proves the new password first, slots stay UP', async () => {
    // Prepare
    const before = await probeBackends();
    // The bundle's servers: the two replicas (the writer is not a server without fallbackToWriter).
    expect(before.map((b) => b.node).sort()).toEqual(['replica1', 'replica2']);
    await postgres.query('primary', `ALTER ROLE ${ROLE} PASSWORD 'second-pass'`);
    await postgres.waitForReplication();

    // Act
    const version = await put({ username: ROLE, password: 'second-pass', engine: 'postgres' });
    const switched = waitFor(
      'the daemon to switch to the new version and close the old connections',
      async () => {
        if (daemon.probeSecret?.status().versionId !== version) return false;
        const now = await probeBackends();
        return now.length === 2 && now.every((b) => !before.some((o) => o.pid === b.pid));
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const failing = await watchVerdicts(switched);

    // Assess
    expect(failing).toEqual([]);
    expect(daemon.probeSecret?.status().error).toBeUndefined();
    const after = await probeBackends();
    const rotatedAt = Math.max(...before.map((b) => b.backendStart.getTime()));
    expect(after.every((b) => b.backendStart.getTime() > rotatedAt)).toBe(true);
  });

  it('a version the servers refuse is not switched to: old connections kept, status says why', async () => {
    // Prepare
    const before = await probeBackends();

    // Act
    const version = await put({ username: ROLE, password: 'not-the-password' });
    const refused = waitFor(
      'the daemon to report the refusal',
      () => (daemon.probeSecret?.status().error ?? '').includes(version),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const failing = await watchVerdicts(refused);

    // Assess
    const status = daemon.probeSecret?.status();
    expect(failing).toEqual([]);
    expect(status?.error).toMatch(
      // The reason comes first: the status line is cut at its length limit, never the reason.
      /^refused by 2\/2 servers .*password authentication failed.*; version \S+ of /,
    );
    expect(status?.versionId).not.toBe(version);
    expect((await probeBackends()).map((b) => b.pid).sort()).toEqual(
      before.map((b) => b.pid).sort(),
    );
  });

  it('a version that does not parse changes nothing; the next good one is used', async () => {
    // Act
    const bad = await put('password=second-pass');
    await waitFor('the refusal', () => (daemon.probeSecret?.status().error ?? '').includes(bad), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const refusal = daemon.probeSecret?.status().error;
    const good = await put({ username: ROLE, password: 'second-pass' });
    await waitFor('the good version', () => daemon.probeSecret?.status().versionId === good, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });

    // Assess
    expect(refusal).toMatch(/^is not JSON .*; version .* refused, last good version kept$/);
    expect(
      daemon
        .status()
        .slots.filter((s) => s.role !== 'writer')
        .every((s) => s.pass),
    ).toBe(true);
  });

  it('never writes a password to its log', () => {
    const text = logs.lines.join('\n');
    for (const secret of ['first-pass', 'second-pass', 'not-the-password']) {
      expect(text).not.toContain(secret);
    }
  });
});
