import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { silentLog } from '@aurora-haproxy/contract/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPostgresqlchk } from '../../../../agent/health/postgresqlchk-install';
import { type HealthDaemon, runServe } from '../../../../agent/health/serve';
import {
  PG_BIN_DIR,
  type PostgresCluster,
  startPostgresCluster,
} from '../../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import {
  createTestHost,
  freePort,
  registryCluster,
  renderFor,
  type TestHost,
  writeAppliedBundle,
} from './fixture';

const execFileAsync = promisify(execFile);

/**
 * CPU per check, postgresqlchk (bash client of the daemon) vs a psql-based check script
 * (the seed's way: fork psql, open a new connection, ask pg_is_in_recovery()), in the same
 * run, against the same replica, with HAProxy's calling convention. CPU = user + sys of all
 * the loop's children (bash `times`). The numbers are printed; the assertion is only the
 * generous one that catches a broken design (a client that forks psql or node would cost as
 * much as the script it replaces). test/bench has the full benchmark.
 */
const CHECKS = 60;

async function cpuPerCheckMs(
  command: string,
  env: Record<string, string>,
  addr: string,
  port: number,
) {
  const { stdout } = await execFileAsync(
    '/bin/bash',
    [
      '-c',
      `ok=0; for ((i=0;i<${CHECKS};i++)); do "$0" NOT_USED NOT_USED ${addr} ${port} && ok=$((ok+1)); done; echo "$ok"; times`,
      command,
    ],
    { env, timeout: 60_000 },
  );
  const [ok, , children] = stdout.trim().split('\n');
  const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(children ?? '');
  if (!m) throw new Error(`cannot read bash times: ${stdout}`);
  const seconds = Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
  return { passed: Number(ok), ms: (seconds / CHECKS) * 1000 };
}

describe('check CPU cost: postgresqlchk vs a psql check script (same run)', () => {
  let pg: PostgresCluster;
  let host: TestHost;
  let daemon: HealthDaemon;

  beforeAll(async () => {
    pg = await startPostgresCluster({ replicas: 1 });
    const checkPort = await freePort();
    host = createTestHost(checkPort);
    writeAppliedBundle(
      host.stateDir,
      renderFor(pg, registryCluster(await freePort(), { checkMode: 'external' })),
    );
    daemon = await runServe(
      {
        checkPort,
        stateDir: host.stateDir,
        binDir: host.binDir,
        user: 'postgres',
        tls: { mode: 'verify-full', caBundlePath: pg.caFile },
      },
      { log: silentLog },
    );
    installPostgresqlchk(host.binDir, checkPort);
    await waitFor('verdicts', () => daemon.status().slots.every((s) => s.pass));
  });
  afterAll(async () => {
    await daemon?.close();
    await pg?.stop();
  });

  it('postgresqlchk costs a fraction of the psql script per check', async () => {
    // Prepare
    const replica = pg.node('replica1');
    const slot = daemon.status().slots.find((s) => s.port === replica.port)?.slot ?? '';
    const [backend, server] = slot.split('/') as [string, string];
    const psqlScript = join(host.dir, 'psqlchk');
    writeFileSync(
      psqlScript,
      `#!/bin/bash\nresult=$(${PG_BIN_DIR}/psql -t -h "$3" -p "$4" -U postgres -c 'select pg_is_in_recovery();')\n[ "$result" == " t" ] && exit 0\nexit 1\n`,
      { mode: 0o755 },
    );
    const env = { PATH: host.binDir, HAPROXY_PROXY_NAME: backend, HAPROXY_SERVER_NAME: server };

    // Act
    const ours = await cpuPerCheckMs(
      join(host.binDir, 'postgresqlchk'),
      env,
      replica.host,
      replica.port,
    );
    const psql = await cpuPerCheckMs(psqlScript, env, replica.host, replica.port);

    // Assess
    console.log(
      `check CPU per check: postgresqlchk ${ours.ms.toFixed(2)} ms, psql script ${psql.ms.toFixed(2)} ms (${CHECKS} checks each)`,
    );
    expect(ours.passed).toBe(CHECKS);
    expect(psql.passed).toBe(CHECKS);
    expect(ours.ms).toBeLessThan(psql.ms * 0.6);
  });
});
