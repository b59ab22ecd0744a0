import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../agent/health/log';
import { ServerProbe } from '../../../../agent/health/probe';
import { loadTls } from '../../../../agent/health/tls';
import type { ProbeResult } from '../../../../agent/health/verdict';
import {
  type PostgresCluster,
  startPostgresCluster,
} from '../../../../infra/local/postgres-cluster';
import { waitFor } from '../../../../infra/local/process/wait';

/**
 * Probes over TLS with sslmode verify-full semantics: PostgreSQL serves a certificate signed
 * by a test CA (standing in for the RDS CA bundle); the probe trusts only the configured
 * bundle and checks the name it connects to.
 */
function openssl(args: string[], cwd: string): void {
  execFileSync('/usr/bin/openssl', args, { cwd, stdio: 'ignore' });
}

function makeCa(dir: string, name: string): void {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-subj',
      `/CN=${name}`,
      '-days',
      '2',
      '-out',
      `${name}.pem`,
    ],
    dir,
  );
}

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
    silentLogger,
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
    makeCa(dir, 'ca');
    makeCa(dir, 'other-ca');
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key'], dir);
    openssl(['req', '-new', '-key', 'server.key', '-subj', '/CN=db-1', '-out', 'server.csr'], dir);
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:db-1.test\n');
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        'san.ext',
        '-out',
        'server.pem',
      ],
      dir,
    );
    // PostgreSQL (user postgres) needs to read the key, and refuses one others can read.
    const pgDir = join(dir, 'pg');
    mkdirSync(pgDir);
    const { uid, gid } = idsOfPostgres();
    for (const f of ['server.key', 'server.pem']) {
      execFileSync('/bin/cp', [join(dir, f), join(pgDir, f)]);
      chownSync(join(pgDir, f), uid, gid);
      chmodSync(join(pgDir, f), 0o600);
    }
    chownSync(pgDir, uid, gid);
    chmodSync(dir, 0o755);
    pg = await startPostgresCluster({
      replicas: 0,
      extraConf: [
        'ssl = on',
        `ssl_cert_file = '${join(pgDir, 'server.pem')}'`,
        `ssl_key_file = '${join(pgDir, 'server.key')}'`,
      ],
    });
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('connects when the certificate chains to the bundle and names the address', async () => {
    // Act
    const result = await probeOnce(pg.primary().port, '127.0.0.1', join(dir, 'ca.pem'));

    // Assess
    expect(result).toMatchObject({ connected: true, inRecovery: false });
  });

  it('fails when the certificate is not signed by the configured bundle', async () => {
    // Act
    const result = await probeOnce(pg.primary().port, '127.0.0.1', join(dir, 'other-ca.pem'));

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

function idsOfPostgres(): { uid: number; gid: number } {
  const out = execFileSync('id', ['postgres']).toString();
  return { uid: Number(/uid=(\d+)/.exec(out)?.[1]), gid: Number(/gid=(\d+)/.exec(out)?.[1]) };
}
