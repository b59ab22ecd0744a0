import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLog } from '@aurora-haproxy/contract/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProbe } from '../../../../agent/health/probe';
import { loadTls } from '../../../../agent/health/tls';
import type { ProbeResult } from '../../../../agent/health/verdict';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import { LocalCa } from '../../../../packages/local-stack/tls/local-ca';

/**
 * Probes over TLS with sslmode verify-full semantics: PostgreSQL serves a certificate signed
 * by a test CA (standing in for the RDS CA bundle); the probe trusts only the configured
 * bundle and checks the name it connects to.
 */
async function probeOnce(port: number, address: string, caPath: string): Promise<ProbeResult> {
  let result: ProbeResult | undefined;
  const probe = new ServerProbe(
    { key: `${address}:${port}`, address, port },
    {
      intervalMs: 100,
      connectTimeoutMs: 2000,
      statementTimeoutMs: 1000,
      reconnectMinMs: 100,
      reconnectMaxMs: 1000,
      database: 'postgres',
      user: 'postgres',
    },
    { login: async (t) => ({ user: t.user }), invalidate() {} },
    loadTls({ mode: 'verify-full', caBundlePath: caPath })(address),
    (_e, r) => {
      result ??= r;
    },
    silentLog,
  );
  probe.start();
  try {
    return await waitFor('a probe result', () => result, { timeoutMs: 5000 });
  } finally {
    await probe.stop();
  }
}

describe('probes over TLS (verify-full against a CA bundle)', () => {
  let pg: PostgresCluster;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ah-tls-'));
    chmodSync(dir, 0o755);
    const ca = LocalCa.create(join(dir, 'ca'), 'test RDS CA');
    LocalCa.create(join(dir, 'other-ca'), 'another CA');
    // The node's certificate names its instance endpoint and its address (SAN).
    pg = await startPostgresCluster({
      replicas: 0,
      tls: { ca, dnsNames: () => ['db-1.test'] },
    });
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('connects when the certificate chains to the bundle and names the address', async () => {
    // Act
    const result = await probeOnce(pg.primary().port, '127.0.0.1', join(dir, 'ca', 'ca.pem'));

    // Assess
    expect(result).toMatchObject({ connected: true, inRecovery: false });
  });

  it('fails when the certificate is not signed by the configured bundle', async () => {
    // Act
    const result = await probeOnce(pg.primary().port, '127.0.0.1', join(dir, 'other-ca', 'ca.pem'));

    // Assess
    expect(result.connected).toBe(false);
    expect(result.error).toMatch(/certificate|SELF_SIGNED|UNABLE_TO/i);
  });

  it('refuses a missing or non-PEM CA bundle at start', () => {
    // Prepare
    writeFileSync(join(dir, 'empty.pem'), 'nothing here');

    // Act + Assess
    expect(() => loadTls({ mode: 'verify-full', caBundlePath: join(dir, 'missing.pem') })).toThrow(
      /cannot read the RDS CA bundle/,
    );
    expect(() => loadTls({ mode: 'verify-full', caBundlePath: join(dir, 'empty.pem') })).toThrow(
      /holds no PEM certificate/,
    );
  });
});
