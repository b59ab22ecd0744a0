import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  appendFileSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import pg from 'pg';
import { findPgBinDir } from './pg-bindir';
import { type ManagedProcess, startProcess } from './process/managed-process';
import { freePort } from './process/ports';
import { sleep, waitFor } from './process/wait';
import { type IssuedCertificate, type LocalCa, processCa } from './tls/local-ca';
import { servedFingerprint } from './tls/served-certificate';

/**
 * A simulated Aurora PostgreSQL cluster for tests and the local stack: one primary and N
 * streaming replicas of the installed PostgreSQL (15 on Debian 12, 17 on Debian 13; see
 * pg-bindir.ts) on 127.0.0.1 free ports, data in a temp dir, run as
 * user postgres. Every postmaster is started directly (not through pg_ctl), so its PID is
 * the one we hold and it is ended by PID even when a test fails (process-group cleanup of
 * packages/local-stack/process). Failover is done like Aurora's: stop the writer, promote a
 * replica, repoint the others (see DESIGN.md "Verified here").
 *
 * Test connections are held (one pg.Client per node, opened on first use): a new
 * connection costs ~28 ms here.
 *
 * TLS only, as Aurora with rds.force_ssl=1: every node serves a certificate of its own from
 * the cluster's CA (the stack's "RDS CA bundle", or the process's test CA), whose
 * subjectAltName carries the node's address and the DNS names the caller gives (its instance
 * endpoint name); pg_hba.conf has only `hostssl` lines, so a plaintext connection gets the
 * same refusal as from Aurora ("no pg_hba.conf entry ... no encryption"). libpq clients
 * (pg_basebackup, replication, psql, pgbench) use TLS by their default sslmode=prefer.
 */

/** Setting AURORA_HAPROXY_PG_BINDIR, else the newest installed major (pg-bindir.ts). */
export const PG_BIN_DIR = findPgBinDir();
export const PG_USER = 'postgres';
export const PG_HOST = '127.0.0.1';

const execFileAsync = promisify(execFile);

export type PgRole = 'primary' | 'replica';

export interface PgNode {
  name: string;
  host: string;
  port: number;
  /** PID of the postmaster (0 when stopped). */
  pid: number;
  role: PgRole;
  running: boolean;
  dataDir: string;
}

export interface PostgresCluster {
  baseDir: string;
  /** The CA bundle (PEM file) every node's certificate chains to. */
  caFile: string;
  /**
   * The node-postgres `ssl` option of the harness's own connections (tests, the RDS
   * stand-in's probe): verify against caFile and any CA a node was told to present a
   * certificate of, so a node with a foreign certificate stays visible to the harness.
   */
  ssl(): ConnectionOptions;
  /**
   * The same through a proxy (HAProxy): the chain is verified but not the name, which is the
   * proxy's address, not the node's (PgBouncer's sslmode verify-ca).
   */
  sslThroughProxy(): ConnectionOptions;
  /**
   * Make a node present another certificate (e.g. one from a foreign CA) from its next
   * connection on: ALTER SYSTEM + pg_reload_conf(); existing sessions keep theirs. The
   * cluster's own control connections trust `caFile` too, so they keep working.
   */
  presentCertificate(name: string, certificate: IssuedCertificate, caFile: string): Promise<void>;
  /** Snapshot of every node, in creation order. */
  nodes(): PgNode[];
  node(name: string): PgNode;
  primary(): PgNode;
  replicas(): PgNode[];
  /**
   * Stop a node: immediate (SIGQUIT, like a crash) by default, or fast (SIGINT). A stopped
   * former primary keeps role 'replica' after another node is promoted (it is no longer the
   * writer; restarting it as a standby would need pg_rewind, which the tests do not do).
   */
  stopNode(name: string, mode?: 'immediate' | 'fast'): Promise<void>;
  /** Start a stopped node again with its data directory as it is. */
  startNode(name: string): Promise<void>;
  /**
   * Freeze (SIGSTOP) or thaw (SIGCONT) a node's postmaster and every child process: a hung
   * server that still accepts TCP connections. PostgreSQL children call setsid(), so the
   * process group alone does not reach them; they are found through /proc.
   */
  freeze(name: string): void;
  thaw(name: string): void;
  /** SELECT pg_promote() on a replica and wait until it accepts writes. */
  promote(name: string): Promise<void>;
  /** Point every running replica at `primaryName` (ALTER SYSTEM + pg_reload_conf()). */
  repoint(primaryName: string): Promise<void>;
  /**
   * pg_basebackup a new replica from the current primary and start it, on 127.0.0.1 and a
   * free port, or on the loopback address and port given (an instance replaced behind its
   * endpoint name: same port, another address).
   */
  addReplica(at?: { host: string; port: number }): Promise<PgNode>;
  /** Stop a replica and delete its data directory. */
  removeReplica(name: string): Promise<void>;
  /** Run SQL on a node over its held connection. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    name: string,
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** Wait until every running replica has replayed the primary's current WAL position. */
  waitForReplication(timeoutMs?: number): Promise<void>;
  /** End every postmaster by PID, close connections, delete the data (unless keepData). */
  stop(): Promise<void>;
}

export interface PostgresClusterOptions {
  replicas?: number;
  /** Where data dirs and logs go; a new temp dir by default. */
  baseDir?: string;
  keepData?: boolean;
  /** Extra postgresql.conf lines for every node. */
  extraConf?: string[];
  /** Where node certificates come from; the process's shared test CA (processCa) by default. */
  tls?: {
    ca: LocalCa;
    /** DNS names of a node's certificate besides its address (its instance endpoint name). */
    dnsNames?: (nodeName: string) => string[];
  };
}

interface NodeState {
  name: string;
  /** Listen address (PG_HOST unless the node was added at another one). */
  host: string;
  port: number;
  role: PgRole;
  dataDir: string;
  logFile: string;
  proc?: ManagedProcess;
  client?: pg.Client;
}

export async function startPostgresCluster(
  options: PostgresClusterOptions = {},
): Promise<PostgresCluster> {
  const { uid, gid } = await postgresIds();
  const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'ah-pg-'));
  mkdirSync(baseDir, { recursive: true });
  chownSync(baseDir, uid, gid);
  const states: NodeState[] = [];
  let replicaCounter = 0;
  const tlsDir = join(baseDir, 'tls');
  const ca = options.tls?.ca ?? processCa();
  // The control connections below trust the cluster's CA and any CA a node was told to
  // present a certificate of (presentCertificate).
  const trusted = new Map<string, Buffer>([[ca.caFile, ca.pem()]]);
  const controlSsl = (): ConnectionOptions => ({
    ca: [...trusted.values()],
    rejectUnauthorized: true,
  });
  const nodeCertificate = (name: string, host: string = PG_HOST): IssuedCertificate =>
    ca.issue({
      name,
      outDir: tlsDir,
      dnsNames: options.tls?.dnsNames?.(name) ?? [],
      ips: [host],
      owner: { uid, gid },
    });
  const tlsConf = (cert: IssuedCertificate) => [
    'ssl = on',
    `ssl_cert_file = '${cert.certFile}'`,
    `ssl_key_file = '${cert.keyFile}'`,
  ];

  const asPostgres = (command: string, args: string[]) =>
    execFileAsync(join(PG_BIN_DIR, command), args, {
      uid,
      gid,
      env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
      timeout: 60_000,
    });

  const find = (name: string): NodeState => {
    const state = states.find((s) => s.name === name);
    if (!state) throw new Error(`no PostgreSQL node named ${name}`);
    return state;
  };

  const closeClient = async (state: NodeState) => {
    const client = state.client;
    state.client = undefined;
    if (client) await client.end().catch(() => undefined);
  };

  const clientOf = async (state: NodeState): Promise<pg.Client> => {
    if (state.client) return state.client;
    const client = new pg.Client({
      host: state.host,
      port: state.port,
      user: PG_USER,
      database: 'postgres',
      ssl: controlSsl(),
      connectionTimeoutMillis: 5000,
    });
    // A broken held connection is dropped; the next query opens a new one.
    client.on('error', () => {
      if (state.client === client) state.client = undefined;
    });
    await client.connect();
    state.client = client;
    return client;
  };

  const launch = async (state: NodeState) => {
    state.proc = startProcess({
      name: `postgres-${state.name}`,
      command: join(PG_BIN_DIR, 'postgres'),
      args: ['-D', state.dataDir, '-p', String(state.port)],
      env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
      logFile: state.logFile,
      uid,
      gid,
    });
    const proc = state.proc;
    await waitFor(
      `PostgreSQL ${state.name} on port ${state.port} to accept connections`,
      async () => {
        if (!proc.running) throw new Error(`postgres ${state.name} exited; see ${state.logFile}`);
        await clientOf(state);
        return true;
      },
      // A replica starting from its base backup at load ~10 on 2 cores (the demo beside a test
      // run) was seen past 30 s; the bound is for a clear message, not a speed target.
      { timeoutMs: 90_000, intervalMs: 50 },
    );
  };

  const halt = async (state: NodeState, mode: 'immediate' | 'fast') => {
    await closeClient(state);
    const proc = state.proc;
    if (!proc?.running) return;
    // Signal the postmaster only (it ends its own children): SIGQUIT = immediate, SIGINT = fast.
    try {
      process.kill(proc.pid, mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
    } catch {
      /* already gone */
    }
    const exited = await Promise.race([
      proc.exitPromise.then(() => true),
      sleep(10_000).then(() => false),
    ]);
    if (!exited) {
      proc.kill('SIGKILL');
      await proc.exitPromise;
    }
  };

  const newReplica = async (
    name: string,
    at?: { host: string; port: number },
  ): Promise<NodeState> => {
    const source = states.find((s) => s.role === 'primary' && s.proc?.running);
    if (!source) throw new Error('no running primary to copy a replica from');
    const state: NodeState = {
      name,
      host: at?.host ?? PG_HOST,
      port: at?.port ?? (await freePort()),
      role: 'replica',
      dataDir: join(baseDir, name),
      logFile: join(baseDir, `${name}.log`),
    };
    await asPostgres('pg_basebackup', [
      '-h',
      source.host,
      '-p',
      String(source.port),
      '-U',
      PG_USER,
      '-D',
      state.dataDir,
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
    ]);
    // The copied postgresql.conf carries the primary's port, address and certificate:
    // override them after the copy (a later line wins).
    appendFileSync(
      join(state.dataDir, 'postgresql.conf'),
      `${[`port = ${state.port}`, `listen_addresses = '${state.host}'`, ...tlsConf(nodeCertificate(name, state.host))].join('\n')}\n`,
    );
    states.push(state);
    await launch(state);
    return state;
  };

  // Creation order (primary, replica1, replica2, ...), whatever order parallel copies finish in.
  const rank = (s: NodeState) =>
    s.name === 'primary' ? 0 : Number(s.name.replace(/\D/g, '')) || 0;
  const ordered = () => [...states].sort((a, b) => rank(a) - rank(b));

  const snapshot = (s: NodeState): PgNode => ({
    name: s.name,
    host: s.host,
    port: s.port,
    pid: s.proc?.running ? s.proc.pid : 0,
    role: s.role,
    running: s.proc?.running ?? false,
    dataDir: s.dataDir,
  });

  const cluster: PostgresCluster = {
    baseDir,
    caFile: ca.caFile,
    ssl: controlSsl,
    sslThroughProxy: () => ({ ...controlSsl(), checkServerIdentity: () => undefined }),
    async presentCertificate(name, certificate, caFile) {
      const state = find(name);
      trusted.set(caFile, readFileSync(caFile));
      const client = await clientOf(state);
      await client.query(`ALTER SYSTEM SET ssl_cert_file = '${certificate.certFile}'`);
      await client.query(`ALTER SYSTEM SET ssl_key_file = '${certificate.keyFile}'`);
      await client.query('SELECT pg_reload_conf()');
      // The reload is asynchronous: wait until a new connection is served the new certificate.
      const expected = new X509Certificate(readFileSync(certificate.certFile)).fingerprint256;
      await waitFor(`${name} to present ${certificate.certFile}`, async () => {
        return (await servedFingerprint(state.host, state.port)) === expected;
      });
    },
    nodes: () => ordered().map(snapshot),
    node: (name) => snapshot(find(name)),
    primary: () => {
      const p = states.find((s) => s.role === 'primary');
      if (!p) throw new Error('the cluster has no primary');
      return snapshot(p);
    },
    replicas: () =>
      ordered()
        .filter((s) => s.role === 'replica')
        .map(snapshot),

    async stopNode(name, mode = 'immediate') {
      await halt(find(name), mode);
    },

    async startNode(name) {
      const state = find(name);
      if (state.proc?.running) return;
      await launch(state);
    },

    freeze: (name) => signalTree(find(name), 'SIGSTOP'),
    thaw: (name) => signalTree(find(name), 'SIGCONT'),

    async promote(name) {
      const state = find(name);
      if (state.role !== 'replica') throw new Error(`${name} is not a replica`);
      const client = await clientOf(state);
      await client.query('SELECT pg_promote(true, 30)');
      for (const other of states) if (other.role === 'primary') other.role = 'replica';
      state.role = 'primary';
      await waitFor(`${name} to leave recovery`, async () => {
        const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        return r.rows[0]?.r === false;
      });
    },

    async repoint(primaryName) {
      const target = find(primaryName);
      for (const state of states) {
        if (state === target || state.role !== 'replica' || !state.proc?.running) continue;
        const client = await clientOf(state);
        const conninfo = `host=${target.host} port=${target.port} user=${PG_USER} application_name=${state.name}`;
        await client.query(`ALTER SYSTEM SET primary_conninfo = '${conninfo}'`);
        await client.query('SELECT pg_reload_conf()');
      }
    },

    async addReplica(at) {
      replicaCounter += 1;
      let name = `replica${replicaCounter}`;
      while (states.some((s) => s.name === name)) {
        replicaCounter += 1;
        name = `replica${replicaCounter}`;
      }
      return snapshot(await newReplica(name, at));
    },

    async removeReplica(name) {
      const state = find(name);
      if (state.role !== 'replica') throw new Error(`${name} is not a replica`);
      await halt(state, 'fast');
      states.splice(states.indexOf(state), 1);
      rmSync(state.dataDir, { recursive: true, force: true });
    },

    async query(name, sql, params) {
      const client = await clientOf(find(name));
      return client.query(sql, params);
    },

    async waitForReplication(timeoutMs = 10_000) {
      const primary = states.find((s) => s.role === 'primary' && s.proc?.running);
      if (!primary) throw new Error('no running primary');
      const primaryClient = await clientOf(primary);
      // A committed xid writes a commit record, so the flush position is the end of a record
      // the replicas will replay (right after a segment switch it otherwise may not be).
      await primaryClient.query('SELECT txid_current()');
      const lsn = (
        await primaryClient.query<{ l: string }>('SELECT pg_current_wal_flush_lsn()::text AS l')
      ).rows[0]?.l;
      for (const state of states) {
        if (state.role !== 'replica' || !state.proc?.running) continue;
        const client = await clientOf(state);
        await waitFor(
          `${state.name} to replay ${lsn}`,
          async () => {
            const r = await client.query<{ ok: boolean }>(
              'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok',
              [lsn],
            );
            return r.rows[0]?.ok === true;
          },
          { timeoutMs },
        );
      }
    },

    async stop() {
      await Promise.all(states.map((s) => halt(s, 'immediate')));
      if (!options.keepData) rmSync(baseDir, { recursive: true, force: true });
    },
  };

  try {
    const primary: NodeState = {
      name: 'primary',
      host: PG_HOST,
      port: await freePort(),
      role: 'primary',
      dataDir: join(baseDir, 'primary'),
      logFile: join(baseDir, 'primary.log'),
    };
    await asPostgres('initdb', [
      '-D',
      primary.dataDir,
      '-U',
      PG_USER,
      '--auth=trust',
      '--no-sync',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    appendFileSync(
      join(primary.dataDir, 'postgresql.conf'),
      `${[
        `port = ${primary.port}`,
        `listen_addresses = '${PG_HOST}'`,
        "unix_socket_directories = ''",
        'fsync = off',
        'full_page_writes = off',
        'wal_level = replica',
        'hot_standby = on',
        'max_wal_senders = 10',
        'max_connections = 100',
        'shared_buffers = 32MB',
        'wal_receiver_status_interval = 1s',
        'hot_standby_feedback = on',
        // A replica whose primary went away retries every 5 s by default, and a promotion
        // requested meanwhile can wait for that sleep; Aurora promotes in well under that.
        'wal_retrieve_retry_interval = 200ms',
        // Replicas are copied in parallel: one copy's checkpoint must not recycle a WAL
        // segment the other copy still streams.
        'wal_keep_size = 256MB',
        ...tlsConf(nodeCertificate('primary')),
        ...(options.extraConf ?? []),
      ].join('\n')}\n`,
    );
    // As rds.force_ssl=1: TLS connections only (initdb's `host` lines are replaced).
    writeFileSync(
      join(primary.dataDir, 'pg_hba.conf'),
      [
        '# aurora-haproxy simulated Aurora node: TLS only (rds.force_ssl=1)',
        'hostssl all all 127.0.0.0/8 trust',
        'hostssl replication all 127.0.0.0/8 trust',
        '',
      ].join('\n'),
    );
    states.push(primary);
    await launch(primary);
    // Replicas are copied in parallel (each pg_basebackup waits mostly on its checkpoint).
    await Promise.all(Array.from({ length: options.replicas ?? 2 }, () => cluster.addReplica()));
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

function signalTree(state: NodeState, signal: NodeJS.Signals): void {
  const pid = state.proc?.running ? state.proc.pid : undefined;
  if (pid === undefined) throw new Error(`${state.name} is not running`);
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    /* no children listed */
  }
  for (const target of [pid, ...children]) {
    try {
      process.kill(target, signal);
    } catch {
      /* exited meanwhile */
    }
  }
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await execFileAsync('id', [PG_USER]).catch((cause) => {
    throw new Error(`user ${PG_USER} is missing: install postgresql (bash .ci/setup)`, { cause });
  });
  const uid = /uid=(\d+)/.exec(stdout)?.[1];
  const gid = /gid=(\d+)/.exec(stdout)?.[1];
  if (uid === undefined || gid === undefined) throw new Error(`cannot parse "id ${PG_USER}"`);
  return { uid: Number(uid), gid: Number(gid) };
}
