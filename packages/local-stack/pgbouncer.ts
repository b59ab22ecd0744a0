import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import pg from 'pg';
import { startProcess } from './process/managed-process';
import { assertPortFree } from './process/ports';
import { waitFor } from './process/wait';

/**
 * The machine's PgBouncer (1.18 on Debian 12, 1.24 on Debian 13) for tests and the local stack:
 * a generated pgbouncer.ini (listen on one loopback address, unix_socket_dir = the host's
 * HAProxy socket dir so a [databases] entry with no host= reaches HAProxy's per-cluster unix
 * socket, trust auth with an auth_file, `%include` of the bundle's [databases] file), run as
 * user postgres (it refuses root), ended by PID.
 */
export const PGBOUNCER_BINARY = '/usr/sbin/pgbouncer';
export const PGBOUNCER_ADMIN_USER = 'pgbouncer';
export const PGBOUNCER_CLIENT_USER = 'postgres';

export interface LocalPgbouncerOptions {
  dir: string;
  listenAddress: string;
  port: number;
  /** HAProxy's socket dir (AURORA_HAPROXY_SOCKET_DIR); made writable for PgBouncer's socket. */
  socketDir: string;
  /** The bundle's [databases] include; created empty when missing. */
  databasesFile: string;
  poolMode?: 'session' | 'transaction';
  defaultPoolSize?: number;
  /**
   * Client passwords as on an AWS host (infra/fleet/user-data.sh): auth_type hba, the admin
   * console trusted from loopback, every other user by scram-sha-256 against this auth_file
   * content (userlist.txt format, the admin line included). Default: trust.
   */
  userlist?: string;
  /**
   * Seconds PgBouncer waits before it tries a server login again after one failed (its
   * default is 15; here 0.2 unless set, as on the fleet's hosts, infra/fleet/user-data.sh). A
   * writer endpoint with no writer UP fails logins during a failover: this bounds how long
   * clients wait after the new writer passes.
   */
  serverLoginRetry?: number;
  /**
   * TLS to the servers (through HAProxy): server_tls_sslmode = verify-ca against this CA
   * bundle, as a host has it. Absent: `disable`, for tests whose PgBouncer never reaches a
   * server (the simulated Aurora nodes refuse plaintext).
   */
  serverTls?: { caFile: string };
  /**
   * TLS from clients, as a host serves it (client_tls_sslmode = require with this certificate
   * and key): plaintext TCP clients are refused ("SSL required"). Absent: `disable`. The
   * admin console is reached on the unix socket either way (PgBouncer never asks TLS there).
   */
  clientTls?: { certFile: string; keyFile: string };
  /** With `userlist`: users trusted from loopback anyway (the stack's own probes and helpers). */
  trustedUsers?: readonly string[];
}

export interface LocalPgbouncer {
  pid: number;
  host: string;
  port: number;
  iniPath: string;
  /** auth_file (userlist.txt), owned by postgres, mode 0640. */
  authFile: string;
  logFile: string;
  admin: { host: string; port: number; user: string };
  stop(): Promise<void>;
}

export function postgresUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

export async function startLocalPgbouncer(options: LocalPgbouncerOptions): Promise<LocalPgbouncer> {
  const { uid, gid } = postgresUser();
  mkdirSync(options.dir, { recursive: true });
  chownSync(options.dir, uid, gid);
  mkdirSync(options.socketDir, { recursive: true });
  chmodSync(options.socketDir, 0o1777);
  if (!existsSync(options.databasesFile)) writeFileSync(options.databasesFile, '[databases]\n');
  await assertPortFree(options.port, options.listenAddress);

  const authFile = join(options.dir, 'userlist.txt');
  const hbaFile = join(options.dir, 'pg_hba.conf');
  writeFileSync(
    authFile,
    options.userlist ?? `"${PGBOUNCER_CLIENT_USER}" ""\n"${PGBOUNCER_ADMIN_USER}" ""\n`,
    { mode: 0o640 },
  );
  writeFileSync(
    hbaFile,
    [
      `local pgbouncer ${PGBOUNCER_ADMIN_USER} trust`,
      `host pgbouncer ${PGBOUNCER_ADMIN_USER} 127.0.0.0/8 trust`,
      ...(options.trustedUsers ?? []).map((user) => `host all ${user} 127.0.0.0/8 trust`),
      'host all all 127.0.0.0/8 scram-sha-256',
      '',
    ].join('\n'),
  );
  const iniPath = join(options.dir, 'pgbouncer.ini');
  const logFile = join(options.dir, 'pgbouncer.log');
  writeFileSync(
    iniPath,
    [
      '[pgbouncer]',
      `listen_addr = ${options.listenAddress}`,
      `listen_port = ${options.port}`,
      `unix_socket_dir = ${options.socketDir}`,
      ...(options.userlist
        ? ['auth_type = hba', `auth_hba_file = ${hbaFile}`]
        : ['auth_type = trust']),
      `auth_file = ${authFile}`,
      `admin_users = ${PGBOUNCER_ADMIN_USER}`,
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.defaultPoolSize ?? 20}`,
      'max_client_conn = 500',
      `server_login_retry = ${options.serverLoginRetry ?? 0.2}`,
      'query_wait_timeout = 60',
      'ignore_startup_parameters = extra_float_digits',
      ...(options.serverTls
        ? ['server_tls_sslmode = verify-ca', `server_tls_ca_file = ${options.serverTls.caFile}`]
        : ['server_tls_sslmode = disable']),
      ...(options.clientTls
        ? [
            'client_tls_sslmode = require',
            `client_tls_cert_file = ${options.clientTls.certFile}`,
            `client_tls_key_file = ${options.clientTls.keyFile}`,
          ]
        : ['client_tls_sslmode = disable']),
      `pidfile = ${join(options.dir, 'pgbouncer.pid')}`,
      '',
      `%include ${options.databasesFile}`,
      '',
    ].join('\n'),
  );
  for (const path of [authFile, iniPath, hbaFile]) chownSync(path, uid, gid);

  const proc = startProcess({
    name: 'pgbouncer',
    command: PGBOUNCER_BINARY,
    args: [iniPath],
    logFile,
    uid,
    gid,
  });
  // The unix socket: PgBouncer requires no TLS there, whatever client_tls_sslmode says.
  const admin = { host: options.socketDir, port: options.port, user: PGBOUNCER_ADMIN_USER };
  try {
    await waitFor(
      'PgBouncer admin console',
      async () => {
        if (!proc.running) throw new Error('PgBouncer exited; see its log');
        const client = new pg.Client({ ...admin, database: 'pgbouncer' });
        client.on('error', () => {});
        try {
          await client.connect();
          await client.query('SHOW VERSION');
          return true;
        } finally {
          await client.end().catch(() => {});
        }
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (error) {
    await proc.stop();
    throw new Error(`PgBouncer did not start (log ${logFile}): ${errorMessage(error)}`, {
      cause: error,
    });
  }
  return {
    pid: proc.pid,
    host: options.listenAddress,
    port: options.port,
    iniPath,
    authFile,
    logFile,
    admin,
    stop: () => proc.stop(),
  };
}
