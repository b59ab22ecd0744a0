import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { Fleet, type FleetInstance, parseResult } from '../../../packages/local-stack/fleet';
import {
  type LocalHaproxy,
  localHostValues,
  startLocalHaproxy,
} from '../../../packages/local-stack/haproxy';
import {
  type LocalPgbouncer,
  postgresUser,
  startLocalPgbouncer,
} from '../../../packages/local-stack/pgbouncer';
import { freePort } from '../../../packages/local-stack/process/ports';
import { LocalCa, processCa } from '../../../packages/local-stack/tls/local-ca';
import { baselineRewriteAndReload, waitForNewWorker, workerPids } from '../baseline/apply';
import { type BaselineCluster, baselineHaproxyConfig } from '../baseline/haproxy-config';
import { agentBundle } from './agent-bundle';

/**
 * The two kinds of HAProxy host the benchmarks compare, both on the other teams' launchers:
 * - ours: one instance of the local stack's simulated fleet (packages/local-stack/fleet.ts: HAProxy
 *   master-worker, PgBouncer, the agent daemon `serve`, postgresqlchk in its bin dir), with
 *   bundles applied by the real agent CLI (`apply --bundle-file`), bundled as it ships;
 * - baseline: HAProxy (packages/local-stack/haproxy.ts) running the seed-style config, changed by
 *   rewrite + reload, and PgBouncer (packages/local-stack/pgbouncer.ts) in front of it.
 */

export interface OursHost {
  instance: FleetInstance;
  haproxy: LocalHaproxy;
  pgbouncer: LocalPgbouncer;
  daemonPid: number;
  /**
   * With `clientTls`: the host PgBouncer's certificate and key, and the CA clients verify it
   * with.
   */
  clientTls?: { certFile: string; keyFile: string; caFile: string };
  /** Apply a bundle with the agent CLI; the agent's result and the wall time it took. */
  apply(bundle: Bundle): Promise<{ result: AgentResult; wallMs: number }>;
  stop(): Promise<void>;
}

/**
 * `clientTls`: the host's PgBouncer requires TLS from clients with a certificate of an
 * operator-style CA generated here (as the local stack's hosts do); default plaintext clients.
 */
export async function startOursHost(
  options: { clientTls?: boolean; nameserver?: string } = {},
): Promise<OursHost> {
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-ours-'));
  chmodSync(dir, 0o755);
  let clientTls: { certFile: string; keyFile: string; caFile: string } | undefined;
  if (options.clientTls) {
    const ca = LocalCa.create(join(dir, 'client-ca'), 'aurora-haproxy bench operator CA');
    const issued = ca.issue({
      name: 'pgbouncer-clients',
      dnsNames: ['aurora-haproxy-bench.test'],
      ips: [],
      owner: postgresUser(),
    });
    clientTls = { ...issued, caFile: ca.caFile };
  }
  const fleet = new Fleet({
    baseDir: dir,
    groupName: 'bench',
    tableName: 'bench',
    // No table: the boot sync finds nothing (as on a fresh stack) and bundles come from files.
    dynamodbEndpoint: 'http://127.0.0.1:9',
    region: 'us-east-1',
    // The simulated clusters of the benchmarks serve certificates of the process's test CA.
    rdsCaFile: processCa().caFile,
    agentCommand: await agentBundle(),
    ...(clientTls ? { clientTls } : {}),
    // `ip:port` of a DNS server serving the benchmark's endpoint names (bench-names.ts).
    ...(options.nameserver ? { nameserver: options.nameserver } : {}),
  });
  try {
    const instance = await fleet.addInstance();
    const bundleDir = join(dir, 'bundles');
    mkdirSync(bundleDir, { recursive: true });
    const stop = async () => {
      await fleet.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    return {
      instance,
      haproxy: instance.haproxy as LocalHaproxy,
      pgbouncer: instance.pgbouncer as LocalPgbouncer,
      daemonPid: instance.daemon?.pid as number,
      ...(clientTls ? { clientTls } : {}),
      async apply(bundle) {
        const file = join(bundleDir, `${bundle.sha256}.json`);
        writeFileSync(file, JSON.stringify(bundle));
        const t0 = performance.now();
        const run = await fleet.agent(instance.instanceId, [
          'apply',
          '--sha256',
          bundle.sha256,
          '--bundle-file',
          file,
        ]);
        const wallMs = performance.now() - t0;
        const result = parseResult(run.stdout);
        if (!result) throw new Error(`agent apply printed no result: ${run.stderr.slice(-500)}`);
        return { result, wallMs };
      },
      stop,
    };
  } catch (error) {
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * How a client verifies the host PgBouncer's certificate, as DEPLOY.md tells clients to
 * (sslmode=verify-ca against the operator's CA): libpq's environment (pgbench) and
 * node-postgres's `ssl`. Plaintext (undefined) when the host serves no client TLS.
 */
export function clientTlsEnv(host: OursHost): NodeJS.ProcessEnv | undefined {
  if (!host.clientTls) return undefined;
  return { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: host.clientTls.caFile };
}

export function clientTlsSsl(host: OursHost): ConnectionOptions | undefined {
  if (!host.clientTls) return undefined;
  return {
    ca: readFileSync(host.clientTls.caFile, 'utf8'),
    rejectUnauthorized: true,
    // verify-ca: the chain is checked, the name is not (clients reach the host by the NLB's).
    checkServerIdentity: () => undefined,
  };
}

export interface BaselineHost {
  haproxy: LocalHaproxy;
  pgbouncer: LocalPgbouncer;
  configPath: string;
  /**
   * Seed-style change: rewrite the config in place and reload (no validation, no state);
   * resolves when the new worker process exists.
   */
  rewriteAndReload(clusters: readonly BaselineCluster[]): Promise<void>;
  stop(): Promise<void>;
}

/** `aliases`: PgBouncer alias -> cluster port (the [databases] file the seed kept by hand). */
export async function startBaselineHost(
  clusters: readonly BaselineCluster[],
  options: { listenAddress?: string; poolMode?: 'session' | 'transaction'; poolSize?: number } = {},
): Promise<BaselineHost> {
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-base-'));
  chmodSync(dir, 0o755);
  const listenAddress = options.listenAddress ?? '127.0.0.3';
  const host = localHostValues(dir, listenAddress, await freePort());
  const configPath = join(dir, 'haproxy.cfg');
  const render = (cs: readonly BaselineCluster[]) =>
    baselineHaproxyConfig(cs, { runDir: host.runDir, socketDir: host.socketDir, listenAddress });
  writeFileSync(configPath, render(clusters));
  const databasesFile = join(dir, 'pgbouncer-databases.ini');
  writeFileSync(
    databasesFile,
    // TCP to HAProxy (not its unix socket) so PgBouncer's server TLS reaches the TLS-only nodes.
    `[databases]\n${clusters.map((c) => `${c.name} = host=${listenAddress} port=${c.port} dbname=postgres`).join('\n')}\n`,
  );
  let haproxy: LocalHaproxy | undefined;
  try {
    haproxy = await startLocalHaproxy({ dir: join(dir, 'haproxy'), configPath, host });
    const pgbouncer = await startLocalPgbouncer({
      dir: join(dir, 'pgbouncer'),
      listenAddress,
      port: await freePort(listenAddress),
      socketDir: host.socketDir,
      databasesFile,
      poolMode: options.poolMode,
      defaultPoolSize: options.poolSize,
      serverTls: { caFile: processCa().caFile },
    });
    const running = haproxy;
    return {
      haproxy: running,
      pgbouncer,
      configPath,
      async rewriteAndReload(cs) {
        // The master must be past its previous reload (answering its CLI) before the next
        // signal: a SIGUSR2 that arrives while one is still pending is merged into it (seen on
        // 2.6 and 3.0 at load ~10: a reload 300 ms after the last one never happened).
        await running.showProc();
        const before = workerPids(running.pid);
        baselineRewriteAndReload(configPath, render(cs), running.pid);
        try {
          await waitForNewWorker(running.pid, before);
        } catch (error) {
          const log = readFileSync(running.logFile, 'utf8').split('\n').slice(-15).join('\n');
          throw new Error(`${errorMessage(error)}; HAProxy's log ends:\n${log}`);
        }
      },
      async stop() {
        await Promise.all([pgbouncer.stop(), running.stop()]);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await haproxy?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
