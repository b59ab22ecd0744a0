import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPgbouncer, startLocalPgbouncer } from '../../packages/local-stack/pgbouncer';
import { PG_BIN_DIR } from '../../packages/local-stack/postgres-cluster';
import { freePort } from '../../packages/local-stack/process/ports';
import { waitFor } from '../../packages/local-stack/process/wait';
import { FLEET_ENDPOINT_NAME, LocalStack } from '../../packages/local-stack/stack';
import { countReads, sampleReads } from '../../packages/local-stack/stack-probes';
import { CLUSTER, readerPorts, registerCluster, viaPgbouncer } from './support';

const execFileAsync = promisify(execFile);

/**
 * Issue 9 "Prove it end to end", the TLS proofs, on one stack (a simulated Aurora cluster with
 * 3 TLS-only readers, 1 host):
 * - a client without TLS is refused by the host's PgBouncer; psql with sslmode=verify-ca (and
 *   verify-full by the fleet endpoint's name) against the CA DEPLOY.md says to use gets in;
 * - a reader presenting a certificate of another CA: PgBouncer (server_tls_sslmode verify-ca
 *   against the RDS CA bundle) refuses it, the health daemon marks it DOWN with the TLS error
 *   as reason, the other readers serve every read.
 */

interface StatusServer {
  instanceId?: string;
  port?: number;
  health?: string;
  verdict?: { pass: boolean; reason: string };
}

describe('TLS on both sides, proven on the local stack', () => {
  let stack: LocalStack;
  const dir = mkdtempSync(join(tmpdir(), 'ah-tls-proofs-'));

  beforeAll(async () => {
    stack = await LocalStack.start({
      clusters: [{ clusterId: CLUSTER, replicas: 3 }],
      instances: 1,
    });
    await registerCluster(stack);
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const host = () => {
    const [instance] = stack.fleet.inService();
    if (!instance) throw new Error('no host in service');
    return instance;
  };

  /** psql through the host's PgBouncer with the given TLS words: its stdout, or its error. */
  async function psql(conninfo: string): Promise<string> {
    const h = host();
    try {
      const { stdout } = await execFileAsync(
        join(PG_BIN_DIR, 'psql'),
        [
          `${conninfo} port=${h.pgbouncerPort} dbname=${CLUSTER} user=postgres connect_timeout=10`,
          '-Atc',
          'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        ],
        { timeout: 30_000 },
      );
      return stdout.trim();
    } catch (error) {
      return `refused: ${(error as { stderr?: string }).stderr ?? errorMessage(error)}`;
    }
  }

  it('a client without TLS is refused; verify-ca and verify-full against the operator CA are accepted', async () => {
    // Prepare
    const h = host();
    const address = h.host.listenAddress;
    const ca = stack.clientCaFile;

    // Act
    const plain = new pg.Client({
      host: address,
      port: h.pgbouncerPort,
      database: CLUSTER,
      user: 'postgres',
      ssl: false,
      connectionTimeoutMillis: 10_000,
    });
    plain.on('error', () => undefined);
    const plainResult = await plain.connect().then(
      () => 'accepted',
      (error: Error) => `refused: ${error.message}`,
    );
    await plain.end().catch(() => undefined);
    const disabled = await psql(`host=${address} sslmode=disable`);
    const verifyCa = await psql(`host=${address} sslmode=verify-ca sslrootcert=${ca}`);
    // verify-full checks the name the client asked for: the fleet endpoint's (the NLB's DNS
    // name in AWS), reached here at the host's address.
    const verifyFull = await psql(
      `host=${FLEET_ENDPOINT_NAME} hostaddr=${address} sslmode=verify-full sslrootcert=${ca}`,
    );
    const wrongCa = await psql(`host=${address} sslmode=verify-ca sslrootcert=${stack.rdsCaFile}`);

    // Assess: pg_stat_ssl.ssl = t is the reader's view of PgBouncer's server connection
    expect(plainResult).toMatch(/refused: .*SSL required/);
    expect(disabled).toMatch(/refused: .*SSL required/);
    expect(verifyCa).toBe('t');
    expect(verifyFull).toBe('t');
    expect(wrongCa).toMatch(/refused: .*certificate verify failed/);
  });

  it('a reader presenting a certificate of another CA: PgBouncer refuses it, the daemon marks it DOWN with a readable reason, the others serve', async () => {
    // Prepare
    const h = host();
    const cluster = stack.cluster(CLUSTER);
    const foreign = cluster.replicas()[2];
    if (!foreign) throw new Error('the cluster has no third reader');
    const foreignId = stack.instanceIdOf(CLUSTER, foreign.name) as string;
    const good = readerPorts(stack).filter((p) => p !== foreign.port);

    // Act: the reader presents a certificate of another CA for its own name (sessions restart)
    await stack.presentForeignCertificate(CLUSTER, foreignId, { restart: true });

    // Assess 1: the daemon marks it DOWN, the reason names the certificate failure
    let server: StatusServer | undefined;
    await waitFor(
      `${foreignId} DOWN by the daemon's verdict on ${h.instanceId}`,
      async () => {
        const run = await stack.fleet.agent(h.instanceId, ['status', '--json']);
        const status = JSON.parse(run.stdout) as { haproxy: { servers: StatusServer[] } };
        server = status.haproxy.servers.find((s) => s.instanceId === foreignId);
        return server?.health === 'DOWN' && server.verdict?.pass === false;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(server?.verdict?.reason).toMatch(/certificate|self[- ]signed|UNABLE_TO_VERIFY/i);

    // Assess 2: the other readers serve every read through PgBouncer
    const counts = countReads(await sampleReads(viaPgbouncer(h), 60, 4));
    expect(counts.errors).toBe(0);
    expect(counts.fromWriter).toBe(0);
    expect([...counts.byPort.keys()].sort((a, b) => a - b)).toEqual(good);

    // Assess 3: PgBouncer with the hosts' server TLS setting (verify-ca, the RDS CA bundle)
    // refuses the reader when pointed at it directly; the same PgBouncer serves a good reader.
    chmodSync(dir, 0o755);
    const databases = join(dir, 'databases.ini');
    const goodReader = cluster.replicas().find((r) => r.port === good[0]);
    writeFileSync(
      databases,
      `[databases]\nforeign = host=${foreign.host} port=${foreign.port} dbname=postgres\ngood = host=${goodReader?.host} port=${goodReader?.port} dbname=postgres\n`,
    );
    chmodSync(databases, 0o644);
    const bouncer: LocalPgbouncer = await startLocalPgbouncer({
      dir: join(dir, 'pgbouncer'),
      listenAddress: '127.0.0.1',
      port: await freePort(),
      socketDir: join(dir, 'sockets'),
      databasesFile: databases,
      serverTls: { caFile: stack.rdsCaFile },
    });
    try {
      const ask = async (database: string): Promise<string> => {
        const c = new pg.Client({
          host: bouncer.host,
          port: bouncer.port,
          database,
          user: 'postgres',
          connectionTimeoutMillis: 10_000,
          query_timeout: 10_000,
        });
        c.on('error', () => undefined);
        try {
          await c.connect();
          const { rows } = await c.query<{ port: number }>('SELECT inet_server_port() AS port');
          return String(rows[0]?.port);
        } catch (error) {
          return `refused: ${errorMessage(error)}`;
        } finally {
          await c.end().catch(() => undefined);
        }
      };
      expect(await ask('good')).toBe(String(goodReader?.port));
      expect(await ask('foreign')).toMatch(/^refused: /);
      await waitFor(
        'PgBouncer to log the refused server certificate',
        async () => /certificate verify failed/.test(readFileSync(bouncer.logFile, 'utf8')),
        { timeoutMs: 10_000, intervalMs: 200 },
      );
    } finally {
      await bouncer.stop();
    }
  });
});
