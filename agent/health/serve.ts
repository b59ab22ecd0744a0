import { join } from 'node:path';
import { jsonLinesLog, type Log } from '@aurora-haproxy/contract/log';
import { PgbouncerAdmin } from '../pgbouncer/admin';
import { ProbeSecretCredentials } from '../secrets/probe-rotation';
import type { ProbeSecret } from '../secrets/probe-secret';
import type { SecretWatcher } from '../secrets/watcher';
import { pendingSlotsPath } from '../state/pending-slots';
import { AppliedBundleWatcher } from './applied-bundle-watcher';
import { type DaemonStatus, statusOf } from './check-protocol';
import { startCheckServer } from './check-server';
import { type HealthConfig, type HealthConfigInput, parseHealthConfig } from './config';
import { type CredentialsDeps, createCredentialsProvider } from './credentials';
import { HealthMonitor } from './health-monitor';
import { writeCheckConf } from './postgresqlchk-install';
import { type ReadinessServer, startReadinessServer } from './readiness-server';
import { RuntimePusher } from './runtime-push';
import { loadTls } from './tls';
import { WriterPauseAdapter } from './writer-pause-adapter';

/**
 * `aurora-haproxy-agent serve`: the health daemon. Follows the applied bundle, probes every
 * server over one held connection, serves HAProxy's tcp-check and postgresqlchk from the
 * cached verdicts, and pushes verdict flips to HAProxy's runtime API at once.
 * Resolves once the check listener is up; the returned handle stops everything.
 */
export const APPLIED_BUNDLE_FILE = 'applied-bundle.json';

export interface HealthDaemon {
  config: HealthConfig;
  checkPort: number;
  /** Port of the readiness endpoint, when configured. */
  readinessPort?: number;
  /** Current verdicts with their ages (what `status` shows). */
  status(): DaemonStatus;
  monitor: HealthMonitor;
  pusher?: RuntimePusher;
  /** PAUSE/RESUME of writer aliases in PgBouncer (config.pgbouncer set). */
  writerPause?: WriterPauseAdapter;
  /** Re-read the applied bundle now (the watcher also polls). */
  reloadBundle(): Promise<void>;
  /** The probe secret's watcher (credentials mode secret), for status and tests. */
  probeSecret?: SecretWatcher<ProbeSecret>;
  close(): Promise<void>;
}

export interface ServeDeps extends CredentialsDeps {
  log?: Log;
}

export async function runServe(
  input: HealthConfig | HealthConfigInput,
  deps: ServeDeps = {},
): Promise<HealthDaemon> {
  const config = parseHealthConfig(input);
  const log = deps.log ?? jsonLinesLog();
  const ssl = loadTls(config.tls);
  const credentials = createCredentialsProvider(config.credentials, { log, ...deps });
  const pusher = config.statsSocketPath
    ? new RuntimePusher(config.statsSocketPath, log)
    : undefined;
  let writerPause: WriterPauseAdapter | undefined;
  const monitor = new HealthMonitor(config, {
    credentials,
    ssl,
    log,
    onFlip: pusher ? (flip) => void pusher.push(flip) : undefined,
    pushesInFlight: () => pusher?.inFlight ?? 0,
    onEvaluated: () => writerPause?.evaluate(),
  });
  if (config.pgbouncer) {
    const admin = new PgbouncerAdmin({ ...config.pgbouncer, connectTimeoutMs: 1_000 });
    writerPause = new WriterPauseAdapter({
      console: admin,
      views: () => monitor.writerEndpoints(),
      bundleSha: () => monitor.sha256,
      beforeResume: async () => pusher?.idle(),
      log,
      maxPauseMs: config.writerPauseMaxMs,
    });
  }
  const watcher = new AppliedBundleWatcher(
    join(config.stateDir, APPLIED_BUNDLE_FILE),
    (index, pending) => monitor.setState(index, pending),
    log,
    200,
    pendingSlotsPath(config.stateDir),
  );
  if (credentials instanceof ProbeSecretCredentials) {
    // A new probe secret version is used make-before-break (HealthMonitor.switchLogin).
    credentials.useSwitcher(async (secret, commit) => {
      const login = { user: secret.username ?? config.user, password: secret.password };
      const result = await monitor.switchLogin(login, commit);
      log.info('probe credential switched', {
        proven: result.proven.length,
        unreachable: result.unreachable.length,
      });
    });
  }
  const probeSecret =
    credentials instanceof ProbeSecretCredentials ? credentials.watcher : undefined;
  await watcher.start();
  monitor.start();
  // The first poll runs now (the first probe connect waits for it); then every pollMs.
  void probeSecret?.start();
  let checkServer: Awaited<ReturnType<typeof startCheckServer>>;
  try {
    checkServer = await startCheckServer(monitor, {
      address: config.checkAddress,
      port: config.checkPort,
      log,
    });
  } catch (error) {
    watcher.stop();
    await probeSecret?.stop();
    await monitor.stop();
    throw error;
  }
  if (config.binDir) writeCheckConf(config.binDir, checkServer.port, config.checkAddress);
  let readiness: ReadinessServer | undefined;
  if (config.readiness) {
    try {
      readiness = await startReadinessServer(
        { appliedSha256: () => monitor.sha256 },
        {
          address: config.readiness.address,
          port: config.readiness.port,
          statsSocketPath: config.statsSocketPath,
          pgbouncer: config.readiness.pgbouncer && {
            admin: config.readiness.pgbouncer,
            stateDir: config.stateDir,
          },
          log,
        },
      );
    } catch (error) {
      watcher.stop();
      await probeSecret?.stop();
      await checkServer.close();
      await monitor.stop();
      throw error;
    }
  }
  const status = (): DaemonStatus => statusOf(monitor, Date.now());
  return {
    config,
    checkPort: checkServer.port,
    readinessPort: readiness?.port,
    status,
    monitor,
    pusher,
    writerPause,
    reloadBundle: () => watcher.check(),
    probeSecret,
    async close() {
      watcher.stop();
      await probeSecret?.stop();
      await readiness?.close();
      await checkServer.close();
      await monitor.stop();
      await writerPause?.close();
      await pusher?.idle();
    },
  };
}
