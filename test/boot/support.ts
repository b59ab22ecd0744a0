import { X509Certificate } from 'node:crypto';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import pg from 'pg';
import { expect } from 'vitest';
import type { BootHarness } from '../../packages/local-stack/boot/boot-harness';
import { CLIENT } from '../../packages/local-stack/boot/boot-harness';
import type { BootHost } from '../../packages/local-stack/boot/boot-host';

export const CLUSTER = 'orders';
export const ALIAS = 'orders';
export const SERVICES = ['haproxy', 'pgbouncer', 'aurora-haproxy-agent'] as const;

/** Poll until `probe` holds (bounded), failing with what it last saw. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function unitStates(host: BootHost, units: readonly string[]): Promise<string[]> {
  const out = await host.exec(['systemctl', 'is-active', ...units]);
  return out.stdout.trim().split('\n');
}

/** When each unit last became active (systemd's monotonic clock, µs). */
export async function activeSince(host: BootHost, unit: string): Promise<number> {
  return Number(
    (await host.sh(`systemctl show -p ActiveEnterTimestampMonotonic --value ${unit}`)).trim(),
  );
}

export async function readyStatus(): Promise<number> {
  const res = await fetch('http://127.0.0.1:9877/ready').catch(() => undefined);
  return res?.status ?? 0;
}

/** The sha of the bundle the host's agent applied (its state dir on the host's disk). */
export function appliedSha(host: BootHost): string {
  return (
    JSON.parse(host.readFile('var/lib/aurora-haproxy/applied-bundle.json')) as { sha256: string }
  ).sha256;
}

/**
 * Reads through the host's PgBouncer (NLB's port): the PostgreSQL ports that answered. Over
 * TLS, as the host requires (sslmode=require: the host's generated certificate is checked by
 * clientTlsOnHost, not on every read).
 */
export async function readsThroughPgbouncer(
  count = 8,
): Promise<{ port: number; recovery: boolean }[]> {
  const answers: { port: number; recovery: boolean }[] = [];
  for (let i = 0; i < count; i++) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: 6432,
      user: CLIENT.user,
      password: CLIENT.password,
      database: ALIAS,
      connectionTimeoutMillis: 5000,
      ssl: { rejectUnauthorized: false },
    });
    client.on('error', () => undefined); // a dropped socket also rejects the pending call
    await client.connect();
    try {
      const r = await client.query<{ port: number; recovery: boolean }>(
        'SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery',
      );
      const row = r.rows[0];
      if (row) answers.push({ port: Number(row.port), recovery: row.recovery });
    } finally {
      await client.end();
    }
  }
  return answers;
}

export function readerPorts(harness: BootHarness): number[] {
  return harness.stack
    .cluster(CLUSTER)
    .replicas()
    .filter((r) => r.running)
    .map((r) => r.port)
    .sort((a, b) => a - b);
}

/** Every read answered by a running reader of the stack, never the writer. */
export async function expectReadsOnReadersOnly(harness: BootHarness): Promise<void> {
  const readers = readerPorts(harness);
  const answers = await readsThroughPgbouncer();
  expect(answers.length).toBe(8);
  for (const a of answers) {
    expect(readers, `read answered by port ${a.port}`).toContain(a.port);
    expect(a.recovery).toBe(true);
  }
}

/** `haproxy -c` on the host's config with the unit's environment (what a restart would load). */
export async function haproxyConfigValid(host: BootHost): Promise<boolean> {
  const env = (await host.sh('systemctl show -p Environment --value haproxy')).trim();
  const out = await host.exec([
    '/bin/bash',
    '-c',
    `env ${env} /usr/sbin/haproxy -c -q -f /etc/haproxy/haproxy.cfg`,
  ]);
  return out.code === 0;
}

/**
 * HAProxy's runtime view of the cluster's backend: "addr:port" of servers in service, where
 * addr is the name HAProxy follows for a server given by name (srv_fqdn: the bundle's instance
 * endpoint name) and its IP otherwise, so it compares with bundleServers.
 */
export async function runtimeServers(host: BootHost): Promise<string[]> {
  const out = await host.sh(
    "echo 'show servers state' | socat - UNIX-CONNECT:/run/aurora-haproxy/admin.sock",
  );
  const servers: string[] = [];
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... srv_fqdn (col
    // 18) srv_port (col 19). A server whose name came from the runtime API (`set server …
    // fqdn`) has admin state 0x40 (name set from the CLI; not a maintenance bit).
    if (f.length < 19 || !/^\d+$/.test(f[0] ?? '')) continue;
    const inService = (Number(f[6]) & ~0x40) === 0;
    const address = f[17] && f[17] !== '-' ? f[17] : f[4];
    if (f[1]?.includes(CLUSTER) && inService) servers.push(`${address}:${f[18]}`);
  }
  return servers.sort();
}

/** The bundle's servers of the cluster as "addr:port" (what HAProxy must run). */
export function bundleServers(host: BootHost): string[] {
  const bundle = JSON.parse(host.readFile('var/lib/aurora-haproxy/applied-bundle.json')) as {
    clusters: { clusterId: string; servers: { address: string; port: number; role: string }[] }[];
  };
  const cluster = bundle.clusters.find((c) => c.clusterId === CLUSTER);
  return (cluster?.servers ?? []).map((s) => `${s.address}:${s.port}`).sort();
}

/** What a failed wait shows: failed units, the units' states and their last journal lines. */
export async function diagnose(host: BootHost): Promise<string> {
  const out = await host.exec([
    '/bin/bash',
    '-c',
    'systemctl --failed --no-pager; systemctl list-jobs --no-pager; systemctl status --no-pager -n 25 aurora-haproxy-sync aurora-haproxy-agent haproxy pgbouncer',
  ]);
  return `${out.stdout}${out.stderr}`.slice(-6000);
}

/** `eventually`, failing with the host's diagnosis. */
export async function eventuallyOnHost<T>(
  host: BootHost,
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  try {
    return await eventually(what, probe, timeoutMs);
  } catch (error) {
    throw new Error(`${errorMessage(error)}\n${await diagnose(host)}`);
  }
}

/**
 * Client TLS of a booted host with no certificate named: a plaintext client is refused, and a
 * client that trusts the certificate the host generated at boot (read from its disk, as an
 * operator would fetch it: docs/DEPLOY.md "Client TLS") gets in with verify-ca. Returns the
 * plaintext refusal and the certificate's subject.
 */
export async function clientTlsOnHost(
  host: BootHost,
): Promise<{ refusal: string; subject: string }> {
  const target = {
    host: '127.0.0.1',
    port: 6432,
    user: CLIENT.user,
    password: CLIENT.password,
    database: ALIAS,
    connectionTimeoutMillis: 5000,
  };
  const plain = new pg.Client({ ...target, ssl: false });
  plain.on('error', () => undefined);
  const refusal = await plain.connect().then(
    () => 'ACCEPTED',
    (error: Error) => error.message,
  );
  await plain.end().catch(() => undefined);
  const certificate = host.readFile('etc/pgbouncer/tls/client.crt');
  const verified = new pg.Client({
    ...target,
    ssl: { ca: certificate, rejectUnauthorized: true, checkServerIdentity: () => undefined },
  });
  verified.on('error', () => undefined); // a dropped socket also rejects the pending call
  await verified.connect();
  try {
    await verified.query('SELECT 1');
  } finally {
    await verified.end();
  }
  const subject = new X509Certificate(certificate).subject;
  return { refusal, subject };
}
