import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { type Bundle, sealBundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { initPgbenchTables } from '@aurora-haproxy/test-support/pgbench';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostEnvironment } from '../../../../agent/config';
import { ADMIN, OP_STATE } from '../../../../agent/haproxy/servers-state';
import { validateConfig } from '../../../../agent/haproxy/validate';
import { installedInclude } from '../../../../agent/pgbouncer/host-include';
import { StateStore } from '../../../../agent/state/state-store';
import { BundleStore } from '../../../../functions/state/bundle-store';
import { DesiredPointerStore } from '../../../../functions/state/desired-pointer';
import {
  type DynamoDbLocal,
  startDynamoDbLocal,
} from '../../../../packages/local-stack/dynamodb-local';
import { PG_BIN_DIR, type PgNode } from '../../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../../packages/local-stack/process/ports';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import {
  ALIAS,
  type ApplyStack,
  buildAgent,
  describePoolerAndProxy,
  queryThroughPgbouncer,
  runAgent,
  startApplyStack,
} from './stack';
import { startReadLoop } from './writer-reads';

/**
 * The agent's apply on real processes: PostgreSQL primary + 2 replicas, HAProxy in
 * master-worker mode, PgBouncer (the machine's versions: Debian 12 or 13), the health daemon,
 * DynamoDB Local; bundles rendered by the real renderer. Issue #3 integration tests 1, 2, 4 and
 * 5 (one file: one stack start), plus boot sync with the services down, status, and apply
 * latency.
 */
const execFileAsync = promisify(execFile);
const TABLE = 'aurora-haproxy-apply-test';
const KILLS = 50;
const MAX_ATTEMPTS = 100;

let stack: ApplyStack;
let agent: string;
let ddb: DynamoDbLocal;
let replicaA: PgNode;
let replicaB: PgNode;
const latency = { runtime: [] as number[], reload: [] as number[] };

beforeAll(async () => {
  [stack, ddb] = await Promise.all([startApplyStack({ replicas: 2 }), startDynamoDbLocal()]);
  agent = await buildAgent(stack.dir);
  await ddb.createTable(TABLE);
  [replicaA, replicaB] = stack.pg.replicas() as [PgNode, PgNode];
  // DynamoDB Local's JVM alone may take up to 90 s to answer on a loaded machine.
}, 240_000);

afterAll(async () => {
  console.log(
    `apply latency (ms): runtime ${JSON.stringify(latency.runtime)}, reload ${JSON.stringify(latency.reload)}`,
  );
  await Promise.allSettled([stack?.stop(), ddb?.stop()]);
});

const agentEnv = () => ({
  AURORA_HAPROXY_AGENT_CONFIG: stack.configPath,
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_REGION: 'us-east-1',
});

async function cli(args: string[]) {
  const run = await runAgent(agent, args, { env: agentEnv() });
  const lines = run.stdout.trim().split('\n');
  expect(lines, `stdout: ${run.stdout} stderr: ${run.stderr}`).toHaveLength(1);
  return { ...run, result: JSON.parse(lines[0] as string) };
}

const slotRow = async (slot: string) =>
  (await stack.haproxy.runtime.showServersState()).rows.find((r) => r.server === slot);

const waitSlotUp = (slot: string) =>
  waitFor(
    `${slot} UP in HAProxy`,
    async () => (await slotRow(slot))?.opState === OP_STATE.running,
    {
      timeoutMs: 10_000,
    },
  );

let first: Bundle;
/** The bundle test 1 put in the table as desired. */
let synced: Bundle;

/** `pgbench -S` (4 clients) through the stack's PgBouncer for `seconds`, running in the background. */
function selectOnlyPgbench(seconds: number) {
  return execFileAsync(
    join(PG_BIN_DIR, 'pgbench'),
    [
      ...['-n', '-S', '-c', '4', '-j', '2', '-T', String(seconds)],
      ...['-h', stack.pgbouncer.host, '-p', String(stack.pgbouncer.port), '-U', 'postgres', ALIAS],
    ],
    { timeout: 30_000 },
  );
}

describe('apply', () => {
  it('1. boot sync applies the desired bundle from DynamoDB; reads through PgBouncer land on a replica, never the primary', async () => {
    // Prepare: the orchestrator's stores put the bundle and the desired pointer in the table
    first = stack.render([replicaA]);
    synced = first;
    const client = ddb.client();
    await new BundleStore(client, TABLE).put(first);
    await new DesiredPointerStore(client, TABLE).swap(undefined, first.sha256, new Date());
    const config = JSON.parse(readFileSync(stack.configPath, 'utf8'));
    config.bundleSource = { tableName: TABLE, endpoint: ddb.endpoint, region: 'us-east-1' };
    const { writeFileSync } = await import('node:fs');
    writeFileSync(stack.configPath, JSON.stringify(config));
    const workerBefore = (await stack.haproxy.showProc()).workers[0]?.pid;

    // Act
    const { result, code } = await cli(['sync']);

    // Assess
    expect(code).toBe(0);
    expect(result).toMatchObject({ ok: true, sha256: first.sha256, action: 'reload' });
    latency.reload.push(result.durationMs);
    expect((await stack.haproxy.showProc()).workers[0]?.pid).not.toBe(workerBefore);
    expect(readFileSync(stack.config.haproxy.configPath, 'utf8')).toBe(first.files.haproxy);
    expect(new StateStore(stack.config.stateDir).readState().appliedSha256).toBe(first.sha256);
    await waitSlotUp('r01');
    const primaryPort = stack.pg.primary().port;
    for (let i = 0; i < 10; i++) {
      const [inRecovery, port] = (
        await queryThroughPgbouncer(stack, 'select pg_is_in_recovery(), inet_server_port()')
      ).split('|');
      expect(inRecovery).toBe('t');
      expect(Number(port)).toBe(replicaA.port);
      expect(Number(port)).not.toBe(primaryPort);
    }
    // The same sha again is no work.
    const again = await cli(['apply', '--sha256', first.sha256]);
    expect(again.result).toMatchObject({ ok: true, action: 'unchanged' });
  });

  it('2. adding and removing a reader go through the runtime API, no reload, while pgbench through PgBouncer has 0 failures', async () => {
    // Prepare
    const primary = stack.pg.primary();
    await initPgbenchTables({ host: '127.0.0.1', port: primary.port, database: 'postgres' });
    await stack.pg.waitForReplication();
    const withB = stack.render([replicaA, replicaB], { previous: first });
    const withoutA = stack.render([replicaB], { previous: withB });
    const procBefore = await stack.haproxy.showProc();
    const pgbench = selectOnlyPgbench(6);

    // Act: add B while pgbench runs, then remove A
    await new Promise((r) => setTimeout(r, 1_000));
    const added = await stack.apply(withB);
    await waitSlotUp('r02');
    // Fresh connections straight to the HAProxy listener reach B too (leastconn: A holds
    // PgBouncer's pooled connections).
    const landed = new Set<number>();
    await waitFor(
      'a fresh connection on the added reader',
      async () => {
        const { stdout } = await execFileAsync(join(PG_BIN_DIR, 'psql'), [
          ...['-X', '-A', '-t', '-h', stack.config.haproxy.host.listenAddress],
          ...['-p', String(stack.clusterPort), '-U', 'postgres', '-d', 'postgres'],
          ...['-c', 'select inet_server_port()'],
        ]);
        landed.add(Number(stdout.trim()));
        return landed.has(replicaB.port);
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const removed = await stack.apply(withoutA);
    const bench = await pgbench;

    // Assess
    expect(added).toMatchObject({ ok: true, action: 'runtime' });
    expect(removed).toMatchObject({ ok: true, action: 'runtime' });
    latency.runtime.push(added.durationMs, removed.durationMs);
    const procAfter = await stack.haproxy.showProc();
    expect(procAfter.master.reloads).toBe(procBefore.master.reloads);
    expect(procAfter.workers.map((w) => w.pid)).toEqual(procBefore.workers.map((w) => w.pid));
    expect(landed.has(replicaB.port)).toBe(true);
    expect(landed.has(stack.pg.primary().port)).toBe(false);
    const r01 = await slotRow('r01');
    const r02 = await slotRow('r02');
    expect(r01 && (r01.adminState & ADMIN.forcedMaint) !== 0).toBe(true);
    expect(r02).toMatchObject({ address: '127.0.0.1', port: replicaB.port });
    expect(r02 && (r02.adminState & ADMIN.forcedMaint) === 0).toBe(true);
    // The file was swapped too: a restart would come back to the same membership.
    expect(readFileSync(stack.config.haproxy.configPath, 'utf8')).toBe(withoutA.files.haproxy);
    const output = `${bench.stdout}${bench.stderr}`;
    expect(output).toMatch(/number of failed transactions: 0 \(/);
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(output)?.[1]);
    expect(processed).toBeGreaterThan(100);
    // PgBouncer's pooled connections left A too (RECONNECT, once released): reads reach B only.
    await waitFor(
      'PgBouncer reads to land on B only',
      async () => {
        for (let i = 0; i < 5; i++) {
          const [, port] = (
            await queryThroughPgbouncer(stack, 'select 1, inet_server_port()')
          ).split('|');
          if (Number(port) !== replicaB.port) return false;
        }
        return true;
      },
      { timeoutMs: 5_000, intervalMs: 200 },
    );
    first = withoutA;
  });

  it('2b. a reader re-addressed in its slot (drain, new address, ready, PgBouncer RECONNECT) under pgbench: 0 failures, no reload', async () => {
    // Prepare: the instance in r02 moves to another address (here: replica A's port)
    const moved = stack.render([{ ...replicaB, port: replicaA.port }], { previous: first });
    expect(moved.clusters[0]?.servers).toMatchObject([{ name: 'r02', port: replicaA.port }]);
    const procBefore = await stack.haproxy.showProc();
    const pgbench = selectOnlyPgbench(4);

    // Act
    await new Promise((r) => setTimeout(r, 1_000));
    const result = await stack.apply(moved);
    const bench = await pgbench;

    // Assess
    expect(result).toMatchObject({ ok: true, action: 'runtime' });
    latency.runtime.push(result.durationMs);
    expect((await stack.haproxy.showProc()).workers.map((w) => w.pid)).toEqual(
      procBefore.workers.map((w) => w.pid),
    );
    expect(await slotRow('r02')).toMatchObject({ address: '127.0.0.1', port: replicaA.port });
    expect(`${bench.stdout}${bench.stderr}`).toMatch(/number of failed transactions: 0 \(/);
    await waitFor(
      'PgBouncer reads to follow r02 to its new address',
      async () => {
        const [, port] = (await queryThroughPgbouncer(stack, 'select 1, inet_server_port()')).split(
          '|',
        );
        return Number(port) === replicaA.port;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    first = moved;
  });

  it('4a. a bundle that fails haproxy -c changes nothing: clear error, non-zero exit', async () => {
    // Prepare: a rendered bundle whose config carries an unknown keyword, sealed with a valid sha
    const good = stack.render([replicaA, replicaB], { previous: first, balance: 'roundrobin' });
    const bad = sealBundle(
      {
        ...good,
        files: {
          ...good.files,
          haproxy: good.files.haproxy.replace(
            'balance roundrobin',
            'balance roundrobin\n    frobnicate on',
          ),
        },
      },
      new Date(),
    );
    const before = await snapshot();

    // Act
    const { code, result } = await cli([
      'apply',
      '--sha256',
      bad.sha256,
      '--bundle-file',
      stack.bundleFile(bad),
    ]);

    // Assess
    expect(code).toBe(1);
    expect(result).toMatchObject({ ok: false, action: 'unchanged', sha256: bad.sha256 });
    expect(result.error).toMatch(
      /haproxy -c rejected the config: .*unknown keyword 'frobnicate'.*\[line \d+\]|haproxy -c rejected the config: parsing \[line \d+\] : unknown keyword 'frobnicate'/,
    );
    expect(result.error).toMatch(/nothing changed/);
    expect(await snapshot()).toEqual(before);
  });

  it('4b. a bundle with a wrong sha or tampered content changes nothing: clear error, non-zero exit', async () => {
    // Prepare
    const good = stack.render([replicaA, replicaB], { previous: first });
    const tampered = {
      ...good,
      files: {
        ...good.files,
        pgbouncerDatabases: `${good.files.pgbouncerDatabases}evil = host=10.9.9.9\n`,
      },
    };
    const before = await snapshot();
    const otherSha = 'a'.repeat(64);

    // Act
    const wrongSha = await cli([
      'apply',
      '--sha256',
      otherSha,
      '--bundle-file',
      stack.bundleFile(good),
    ]);
    const badContent = await cli([
      'apply',
      '--sha256',
      good.sha256,
      '--bundle-file',
      stack.bundleFile(tampered),
    ]);
    const notHex = await cli([
      'apply',
      '--sha256',
      'not-a-sha',
      '--bundle-file',
      stack.bundleFile(good),
    ]);

    // Assess
    expect(wrongSha.code).toBe(1);
    expect(wrongSha.result).toMatchObject({ ok: false, action: 'unchanged' });
    expect(wrongSha.result.error).toMatch(/is not the requested a{64}/);
    expect(badContent.code).toBe(1);
    expect(badContent.result.error).toMatch(/hashes to [a-f0-9]{64}, not its sha256/);
    expect(notHex.code).toBe(1);
    expect(notHex.result.error).toMatch(/64 lowercase hex/);
    expect(await snapshot()).toEqual(before);
    // status reports the rejection as the last result; the applied sha did not move.
    expect(new StateStore(stack.config.stateDir).readState().lastResult).toMatchObject({
      ok: false,
      action: 'unchanged',
    });
  });

  it('4c. a reload that fails restores the last-known-good config and reloads it: rollback, non-zero exit', async () => {
    // Prepare: a structural change to a port something else already holds on this host
    const port = await freePort();
    const squatter: Server = createServer();
    await new Promise<void>((r) =>
      squatter.listen(port, stack.config.haproxy.host.listenAddress, () => r()),
    );
    const moved = stack.render([replicaB], { previous: first, port });
    const before = await snapshot();

    try {
      // Act
      const { code, result } = await cli([
        'apply',
        '--sha256',
        moved.sha256,
        '--bundle-file',
        stack.bundleFile(moved),
      ]);

      // Assess
      expect(code).toBe(1);
      expect(result).toMatchObject({ ok: false, action: 'rollback', sha256: moved.sha256 });
      expect(result.error).toMatch(/reload failed: HAProxy refused the new config at reload/);
      expect(result.error).toMatch(
        /restored the last-known-good config \([a-f0-9]{64}\) and reloaded it/,
      );
      const after = await snapshot();
      expect(after.config).toBe(before.config);
      expect(after.appliedSha256).toBe(before.appliedSha256);
      // Two reloads: the refused one and the one of the restored config.
      expect(after.master.reloads).toBe(before.master.reloads + 2);
      expect(after.master.pid).toBe(before.master.pid);
      expect(after.workers).toHaveLength(1);
      // Reads go on through the restored config's reader.
      await waitSlotUp('r02');
      const restoredPort = first.clusters[0]?.servers.find((x) => x.name === 'r02')?.port;
      const [, served] = (
        await queryThroughPgbouncer(stack, 'select pg_is_in_recovery(), inet_server_port()')
      ).split('|');
      expect(Number(served)).toBe(restoredPort);
    } finally {
      await new Promise((r) => squatter.close(r));
    }

    // And once the port is free the same bundle applies with a reload.
    const retried = await cli([
      'apply',
      '--sha256',
      moved.sha256,
      '--bundle-file',
      stack.bundleFile(moved),
    ]);
    expect(retried.result).toMatchObject({ ok: true, action: 'reload' });
    latency.reload.push(retried.result.durationMs);
    expect(readFileSync(stack.config.pgbouncer.databasesPath, 'utf8')).toContain(`port=${port}`);
    await waitSlotUp('r02');
    const [, served] = (
      await queryThroughPgbouncer(stack, 'select pg_is_in_recovery(), inet_server_port()')
    ).split('|');
    expect(Number(served)).toBe(replicaB.port);
  });
});

describe('boot sync before HAProxy and PgBouncer start', () => {
  it('installs the desired files and succeeds when neither is running yet', async () => {
    // Prepare: a second host's config whose HAProxy and PgBouncer are not started
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const dir = join(stack.dir, 'booting-host');
    for (const sub of ['etc', 'state', 'run']) mkdirSync(join(dir, sub), { recursive: true });
    const base = JSON.parse(readFileSync(stack.configPath, 'utf8'));
    const config = {
      ...base,
      stateDir: join(dir, 'state'),
      haproxy: {
        ...base.haproxy,
        configPath: join(dir, 'etc', 'haproxy.cfg'),
        masterSocket: join(dir, 'run', 'master.sock'),
        // Its own health daemon port (none runs yet: apply proceeds, the checks fail closed)
        host: { ...base.haproxy.host, runDir: join(dir, 'run'), checkPort: await freePort() },
      },
      pgbouncer: {
        databasesPath: join(dir, 'etc', 'databases.ini'),
        admin: { host: '127.0.0.1', port: await freePort(), user: 'pgbouncer' },
      },
    };
    const configPath = join(dir, 'agent.json');
    writeFileSync(configPath, JSON.stringify(config));
    const desired = await new DesiredPointerStore(ddb.client(), TABLE).read();

    // Act
    const run = await runAgent(agent, ['sync'], {
      env: { ...agentEnv(), AURORA_HAPROXY_AGENT_CONFIG: configPath },
    });

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      sha256: desired?.sha256,
      action: 'reload',
    });
    expect(run.stderr).toMatch(/HAProxy is not running: config installed/);
    expect(run.stderr).toMatch(/PgBouncer is not running/);
    expect(desired?.sha256).toBe(synced.sha256);
    expect(readFileSync(join(dir, 'etc', 'haproxy.cfg'), 'utf8')).toBe(synced.files.haproxy);
    expect(readFileSync(join(dir, 'etc', 'databases.ini'), 'utf8')).toBe(
      installedInclude(synced, stack.config.haproxy.host),
    );
    expect(new StateStore(join(dir, 'state')).readState().appliedSha256).toBe(synced.sha256);
  });
});

describe('status', () => {
  it('shows the applied sha, the last result, the HAProxy slots with instances, and the daemon verdicts', async () => {
    // Prepare: the last apply (4c) moved the cluster to its own port with replica B in r02
    const applied = new StateStore(stack.config.stateDir).readAppliedBundle();
    await waitFor(
      'the daemon to probe the applied bundle',
      async () => {
        const run = await runAgent(agent, ['status', '--json'], { env: agentEnv() });
        const status = JSON.parse(run.stdout);
        return (
          status.health.sha256 === applied?.sha256 &&
          status.haproxy.servers.some((s: { verdict?: { pass: boolean } }) => s.verdict?.pass)
        );
      },
      { timeoutMs: 10_000, intervalMs: 300 },
    );

    // Act
    const json = JSON.parse(
      (await runAgent(agent, ['status', '--json'], { env: agentEnv() })).stdout,
    );
    const human = (await runAgent(agent, ['status'], { env: agentEnv() })).stdout;

    // Assess
    expect(json.appliedSha256).toBe(applied?.sha256);
    expect(json.lastResult).toMatchObject({ ok: true, action: 'reload', sha256: applied?.sha256 });
    const r02 = json.haproxy.servers.find((s: { server: string }) => s.server === 'r02');
    expect(r02).toMatchObject({
      instanceId: `pg-${replicaB.name}`,
      role: 'reader',
      port: replicaB.port,
      health: 'UP',
      admin: 'ready',
      verdict: { pass: true },
    });
    expect(human).toContain(`applied bundle: ${applied?.sha256}`);
    expect(human).toMatch(/r02\s+pg-\S+\s+reader\s+127\.0\.0\.1:\d+\s+UP\s+ready\s+100\s+pass/);
  });
});

describe('latency', () => {
  it('measures runtime and reload applies (reported, not asserted tightly)', async () => {
    // Prepare: alternate a membership change (runtime) and a balance change (reload)
    const applied = new StateStore(stack.config.stateDir).readAppliedBundle() as Bundle;
    const port = applied.clusters[0]?.port as number;
    const both = stack.render([replicaA, replicaB], { previous: applied, port });
    const rr = stack.render([replicaA, replicaB], { previous: both, port, balance: 'roundrobin' });
    const rrOne = stack.render([replicaB], { previous: rr, port, balance: 'roundrobin' });
    const lcOne = stack.render([replicaB], { previous: rrOne, port });
    // Act
    for (const [bundle, path] of [
      [both, 'runtime'],
      [rr, 'reload'],
      [rrOne, 'runtime'],
      [lcOne, 'reload'],
      [both, 'runtime'],
      [rr, 'reload'],
    ] as const) {
      const result = await stack.apply(bundle);
      // Assess
      expect(result).toMatchObject({ ok: true, action: path });
      latency[path].push(result.durationMs);
    }
  });
});

describe('crash safety', () => {
  it(`5. kill -9 at random points of ${KILLS} applies (also in RECONNECT and the drain wait) leaves HAProxy and PgBouncer on a valid config, no read on the writer; the next apply converges`, async () => {
    // Prepare: membership-only and structural changes between five bundles
    const [a, b] = [replicaA, replicaB];
    const otherPort = await freePort();
    const base = stack.render([a]);
    const both = stack.render([a, b], { previous: base });
    const onlyB = stack.render([b], { previous: both });
    const moved = stack.render([a, b], { previous: both, port: otherPort });
    const roundRobin = stack.render([a], { previous: base, balance: 'roundrobin' });
    const bundles = [base, both, onlyB, moved, roundRobin];
    const files = bundles.map((bundle) => stack.bundleFile(bundle));
    const env = agentEnv();
    const before = new StateStore(stack.config.stateDir).readAppliedBundle() as Bundle;
    const wholeConfigs = new Set([before, ...bundles].map((x) => x.files.haproxy));
    const wholeIncludes = new Set(
      [before, ...bundles].map((x) => installedInclude(x, stack.config.haproxy.host)),
    );
    const outcomes = { killed: 0, finished: 0 };
    const stages = new Map<string, number>();
    let previous = -1;

    // How long an apply runs after it decided / after HAProxy changed (measured on runs that
    // were not killed).
    let applyingMs = 400;
    let afterChangeMs = 60;
    // Pooled reads through PgBouncer the whole time: drained slots hold sessions, RECONNECT
    // has connections to move, and no read may reach the writer whatever the kill.
    const reads = startReadLoop(stack, 'pgbouncer', 2);
    for (let i = 0; outcomes.killed < KILLS && i < MAX_ATTEMPTS; i++) {
      let pick = Math.floor(Math.random() * bundles.length);
      if (pick === previous) pick = (pick + 1) % bundles.length;
      previous = pick;
      const bundle = bundles[pick] as Bundle;

      // Act: kills spread over the apply. Mode 0: in the first 0.4 s (node start, lock,
      // reading the bundle). Mode 1: anywhere after the agent decided (staging, haproxy -c,
      // the pending slot map and the daemon's wait, runtime commands or reload). Mode 2:
      // right after HAProxy changed (runtime API / reload logged), i.e. in PgBouncer's
      // RELOAD/RECONNECT, the drain wait of drained slots (reads keep pooled sessions on
      // them) and the final writes.
      const mode = i % 3;
      const kill =
        mode === 0
          ? { delayMs: Math.floor(Math.random() * 400) }
          : mode === 1
            ? {
                delayMs: Math.floor(Math.random() * applyingMs * 0.7),
                afterStderr: /^apply [a-f0-9]{64}: /m,
              }
            : {
                delayMs: Math.floor(Math.random() * afterChangeMs),
                afterStderr: /^(runtime API:|reloaded:)/m,
              };
      const run = await runAgent(
        agent,
        ['apply', '--sha256', bundle.sha256, '--bundle-file', files[pick] as string],
        { env, kill },
      );
      if (run.signal === 'SIGKILL') {
        outcomes.killed++;
        const stage = /^drained /m.test(run.stderr)
          ? 'after the drain'
          : /runtime API:|reloaded:/.test(run.stderr)
            ? 'in RELOAD/RECONNECT/drain wait'
            : /judges every server|not answering/.test(run.stderr)
              ? 'while changing HAProxy'
              : /^apply /m.test(run.stderr)
                ? 'before changing HAProxy'
                : 'before deciding';
        stages.set(stage, (stages.get(stage) ?? 0) + 1);
      } else {
        outcomes.finished++;
        if (mode === 1 && run.afterMatchMs !== undefined) {
          applyingMs = Math.max(100, run.afterMatchMs);
        }
        if (mode === 2 && run.afterMatchMs !== undefined) {
          afterChangeMs = Math.max(20, run.afterMatchMs);
        }
        expect(JSON.parse(run.stdout.trim()), run.stderr).toMatchObject({ sha256: bundle.sha256 });
      }

      // Assess: HAProxy runs a whole, valid config, whatever the moment of the kill
      expect(stack.haproxy.running()).toBe(true);
      const procs = await waitFor('a current HAProxy worker', async () => {
        const p = await stack.haproxy.showProc();
        return p.workers.length > 0 ? p : undefined;
      });
      expect(procs.workers.length).toBeGreaterThan(0);
      const live = readFileSync(stack.config.haproxy.configPath, 'utf8');
      expect(wholeConfigs.has(live)).toBe(true);
      expect(wholeIncludes.has(readFileSync(stack.config.pgbouncer.databasesPath, 'utf8'))).toBe(
        true,
      );
      expect(() => process.kill(stack.pgbouncer.pid, 0), 'PgBouncer running').not.toThrow();
      await validateConfig(
        stack.config.haproxy.binary,
        stack.config.haproxy.configPath,
        hostEnvironment(stack.config.haproxy.host),
      );
    }

    // Act: one more apply, not killed
    const final = bundles[1] as Bundle;
    const last = await runAgent(
      agent,
      ['apply', '--sha256', final.sha256, '--bundle-file', files[1] as string],
      {
        env,
      },
    );

    // Assess: converged
    const counted = await reads.stop();
    console.log(
      `crash test: ${outcomes.killed} killed (${JSON.stringify(Object.fromEntries(stages))}), ${outcomes.finished} finished; reads ${JSON.stringify(counted)}`,
    );
    expect(counted.writer, `reads on the writer (ports ${counted.writerPorts})`).toBe(0);
    expect(stages.get('in RELOAD/RECONNECT/drain wait') ?? 0).toBeGreaterThan(0);
    expect(outcomes.killed).toBeGreaterThanOrEqual(KILLS);
    expect(last.code, last.stderr).toBe(0);
    expect(JSON.parse(last.stdout)).toMatchObject({ ok: true, sha256: final.sha256 });
    const state = new StateStore(stack.config.stateDir).readState();
    expect(state.appliedSha256).toBe(final.sha256);
    expect(state.inProgress).toBeUndefined();
    expect(readFileSync(stack.config.haproxy.configPath, 'utf8')).toBe(final.files.haproxy);
    const rows = (await stack.haproxy.runtime.showServersState()).rows;
    const cluster = final.clusters[0];
    for (const slot of ['r01', 'r02', 'r03', 'r04']) {
      const row = rows.find((r) => r.backend === cluster?.backend && r.server === slot);
      const server = cluster?.servers.find((s) => s.name === slot);
      expect(row, slot).toBeDefined();
      if (server) {
        expect(row).toMatchObject({ address: server.address, port: server.port });
        expect((row?.adminState ?? 0) & ADMIN.forcedMaint).toBe(0);
      } else {
        expect((row?.adminState ?? 0) & ADMIN.forcedMaint).toBe(ADMIN.forcedMaint);
      }
    }
    const procs = await stack.haproxy.showProc();
    expect(procs.workers).toHaveLength(1);
    // No temp file left next to the live files, and no lock.
    for (const dir of [dirname(stack.config.haproxy.configPath), stack.config.stateDir]) {
      expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    }
    expect(readdirSync(stack.config.stateDir)).not.toContain('apply.lock');
    const readers = new Set(cluster?.servers.map((s) => s.port));
    // The final bundle's slots UP in HAProxy (each after a fresh passing check)
    for (const server of cluster?.servers ?? []) {
      await waitFor(
        `${server.name} UP after the converging apply`,
        async () =>
          (await stack.haproxy.runtime.showServersState()).rows.find(
            (r) => r.backend === cluster?.backend && r.server === server.name,
          )?.opState === OP_STATE.running,
        { timeoutMs: 15_000 },
      );
    }
    await expectReadOnReaders(readers);
  }, 400_000);
});

describe('crash safety: PgBouncer', () => {
  it("5b. kill -9 after the [databases] include is written but before PgBouncer's RELOAD: the next apply with that same include still reloads PgBouncer, which then serves the bundle's port; reads reach its readers", async () => {
    // Prepare: PgBouncer serves the cluster on another port (`moved`); the next bundles
    // (`back`, then `base`) share one include, which differs from moved's.
    const [a, b] = [replicaA, replicaB];
    const env = agentEnv();
    const otherPort = await freePort();
    const moved = stack.render([a, b], { port: otherPort });
    const back = stack.render([a, b], { previous: moved });
    const base = stack.render([a], { previous: back });
    expect(back.files.pgbouncerDatabases).toBe(base.files.pgbouncerDatabases);
    expect(back.files.pgbouncerDatabases).not.toBe(moved.files.pgbouncerDatabases);
    const first = await runAgent(
      agent,
      ['apply', '--sha256', moved.sha256, '--bundle-file', stack.bundleFile(moved)],
      { env },
    );
    expect(JSON.parse(first.stdout), first.stderr).toMatchObject({ ok: true });
    const port = async () => (await showPgbouncerDatabases()).find((d) => d.name === ALIAS)?.port;
    expect(await port()).toBe(otherPort);

    // Act: apply `back`; PgBouncer is stopped (SIGSTOP) once HAProxy's file is back's, so its
    // RELOAD cannot have run when the include is written, and the agent is killed right then.
    const file = (path: string) => readFileSync(path, 'utf8');
    // The include as the agent installs it (host= expanded to the host's listen address).
    const backInstalled = installedInclude(back, stack.config.haproxy.host);
    let stopped = false;
    let killed: Awaited<ReturnType<typeof runAgent>>;
    try {
      killed = await runAgent(
        agent,
        ['apply', '--sha256', back.sha256, '--bundle-file', stack.bundleFile(back)],
        {
          env,
          kill: {
            delayMs: 0,
            when: () => {
              if (!stopped && file(stack.config.haproxy.configPath) === back.files.haproxy) {
                process.kill(stack.pgbouncer.pid, 'SIGSTOP');
                stopped = true;
              }
              return stopped && file(stack.config.pgbouncer.databasesPath) === backInstalled;
            },
          },
        },
      );
    } finally {
      if (stopped) process.kill(stack.pgbouncer.pid, 'SIGCONT');
    }
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(file(stack.config.pgbouncer.databasesPath)).toBe(backInstalled);
    expect(await port(), "PgBouncer still on the killed apply's previous include").toBe(otherPort);
    const last = await runAgent(
      agent,
      ['apply', '--sha256', base.sha256, '--bundle-file', stack.bundleFile(base)],
      { env },
    );

    // Assess: converged, PgBouncer included
    expect(JSON.parse(last.stdout), last.stderr).toMatchObject({ ok: true, sha256: base.sha256 });
    await expectReadOnReaders(new Set(base.clusters[0]?.servers.map((s) => s.port)));
    expect(await port()).toBe(stack.clusterPort);
  }, 120_000);
});

async function showPgbouncerDatabases(): Promise<{ name: string; port: number }[]> {
  const client = new pg.Client({ ...stack.pgbouncer.admin, database: 'pgbouncer' });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query('SHOW DATABASES');
    return rows.map((r) => ({ name: String(r.name), port: Number(r.port) }));
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A read through PgBouncer answered by one of `readers` (a replica). Bounded: PgBouncer backs
 * off logins for server_login_retry (0.2 s here) after one failed. On a timeout the message
 * holds the last error and what PgBouncer and HAProxy hold (pools, servers, slots).
 */
async function expectReadOnReaders(readers: ReadonlySet<number>): Promise<void> {
  let last = 'no answer';
  try {
    await waitFor(
      'a read through PgBouncer on a reader of the final bundle',
      async () => {
        try {
          const answer = await queryThroughPgbouncer(
            stack,
            'select pg_is_in_recovery(), inet_server_port()',
          );
          last = `answered ${JSON.stringify(answer)}`;
          const [inRecovery, port] = answer.split('|');
          return inRecovery === 't' && readers.has(Number(port));
        } catch (error) {
          const e = error as Error & { killed?: boolean; stderr?: string };
          last = e.killed
            ? `psql did not answer within 10 s (${e.stderr?.trim() || 'no error'})`
            : e.message;
          throw error;
        }
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
  } catch (error) {
    throw new Error(
      `${errorMessage(error)} (readers at ports ${[...readers].join(', ')}; last: ${last})\n${await describePoolerAndProxy(stack)}`,
    );
  }
}

async function snapshot() {
  const procs = await stack.haproxy.showProc();
  return {
    config: readFileSync(stack.config.haproxy.configPath, 'utf8'),
    databases: readFileSync(stack.config.pgbouncer.databasesPath, 'utf8'),
    appliedSha256: new StateStore(stack.config.stateDir).readState().appliedSha256,
    master: procs.master,
    workers: procs.workers.map((w) => w.pid),
    servers: (await stack.haproxy.runtime.showServersState()).rows.map((r) => [
      r.backend,
      r.server,
      r.address,
      r.port,
      r.adminState,
    ]),
  };
}
