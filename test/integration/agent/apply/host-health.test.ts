import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import { type Bundle, sealBundle } from '@aurora-haproxy/contract/bundle';
import { PGBOUNCER_LISTEN_HOST } from '@aurora-haproxy/contract/host';
import { silentLog } from '@aurora-haproxy/contract/log';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyBundle } from '../../../../agent/apply/apply';
import { createApplyDeps } from '../../../../agent/apply/deps';
import { syncDesired } from '../../../../agent/apply/sync';
import type { BundleSource } from '../../../../agent/bundle-source/source';
import { type AgentConfig, parseAgentConfig } from '../../../../agent/config';
import { startReadinessServer } from '../../../../agent/health/readiness-server';
import { PgbouncerAdmin } from '../../../../agent/pgbouncer/admin';
import { installedInclude } from '../../../../agent/pgbouncer/host-include';
import { StateStore } from '../../../../agent/state/state-store';
import { localHostValues, startLocalHaproxy } from '../../../../packages/local-stack/haproxy';
import type { PgNode } from '../../../../packages/local-stack/postgres-cluster';
import { freePort } from '../../../../packages/local-stack/process/ports';
import { ALIAS, type ApplyStack, queryThroughPgbouncer, startApplyStack } from './stack';

/**
 * Issue 16 item 2, issue 10 item 1 (agent side), issue 11 items 2 and 5, on real processes:
 * HAProxy (2.6 here, 3.0 in the Debian 13 leg), PgBouncer, PostgreSQL primary + replica.
 * - a config HAProxy cannot start (a cluster port held by another process) is never installed
 *   by boot sync, `unchanged` is not reported for a config that cannot run, and a running
 *   host's refusal carries HAProxy's own reason and is not reloaded again every tick;
 * - a [databases] include PgBouncer half-loads is detected after RELOAD and the last good one
 *   restored; one with the reserved `pgbouncer` alias is refused before anything changes;
 * - the readiness endpoint fails while PgBouncer does not serve the applied bundle;
 * - a reload slower than 5 s succeeds within the configured reload timeout;
 * - the result line carries the host's versions; a bundle needing a newer PgBouncer is refused.
 */
let stack: ApplyStack;
let replica: PgNode;
let good: Bundle;

beforeAll(async () => {
  stack = await startApplyStack({ replicas: 1 });
  replica = stack.pg.replicas()[0] as PgNode;
  good = stack.render([replica]);
  const first = await stack.apply(good);
  expect(first, first.error).toMatchObject({ ok: true, action: 'reload' });
});

afterAll(async () => {
  await stack?.stop();
});

/** A TCP listener on the stack's listen address, held by "another process". */
async function squat(port: number): Promise<Server> {
  // It accepts and holds; a peer's reset on a held socket is not an uncaught error.
  const server = createServer((socket) => socket.on('error', () => undefined));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, stack.config.haproxy.host.listenAddress, () => resolve());
  });
  return server;
}
const release = (server: Server) => new Promise((r) => server.close(r));

const reloads = async () => (await stack.haproxy.showProc()).master.reloads;

describe('a config HAProxy cannot start', () => {
  it('boot sync (HAProxy not running) never installs it: keeps the last good config, says why in HAProxy words, and reports unchanged only for a config that starts', async () => {
    // Prepare: a second host whose HAProxy and PgBouncer are not running (booting)
    const dir = join(stack.dir, 'booting-host');
    for (const sub of ['etc', 'state', 'haproxy']) mkdirSync(join(dir, sub), { recursive: true });
    const host = localHostValues(
      join(dir, 'host'),
      stack.config.haproxy.host.listenAddress,
      await freePort(),
    );
    const config: AgentConfig = parseAgentConfig({
      stateDir: join(dir, 'state'),
      haproxy: {
        configPath: join(dir, 'etc', 'haproxy.cfg'),
        masterSocket: join(dir, 'haproxy', 'master.sock'),
        host,
        reloadTimeoutMs: 10_000,
      },
      pgbouncer: {
        databasesPath: join(dir, 'etc', 'databases.ini'),
        admin: { host: '127.0.0.1', port: await freePort(), user: 'pgbouncer' },
      },
      health: { user: 'postgres', database: 'postgres' },
    });
    const [lastGoodPort, heldPort] = [await freePort(), await freePort()];
    const lastGood = stack.render([replica], { port: lastGoodPort });
    const refused = stack.render([replica], { port: heldPort });
    let desired = lastGood;
    const source: BundleSource = {
      getDesired: async () => ({ sha256: desired.sha256, version: 1, updatedAt: '' }),
      getBundle: async (sha) => [lastGood, refused].find((b) => b.sha256 === sha) as Bundle,
    };
    const sync = () => syncDesired(createApplyDeps(config), source);
    const installed = () => readFileSync(config.haproxy.configPath, 'utf8');
    const applied = () => new StateStore(config.stateDir).readState().appliedSha256;

    // Act 1: the last good bundle, nothing in the way
    const installedGood = await sync();
    // Assess 1
    expect(installedGood, installedGood.error).toMatchObject({ ok: true, action: 'reload' });
    expect(installed()).toBe(lastGood.files.haproxy);

    // Act 2: the next desired bundle's port is held by another process
    desired = refused;
    const squatter = await squat(heldPort);
    let refusedResult: AgentResult;
    try {
      refusedResult = await sync();
    } finally {
      await release(squatter);
    }
    // Assess 2: refused with HAProxy's own reason; the last good config stays installed
    expect(refusedResult.ok).toBe(false);
    expect(refusedResult.error).toMatch(
      // 2.6: "... cannot bind socket (Address already in use) for [127.0.x.y:port]"; the
      // address's wording may differ by version, the reason and the port may not.
      new RegExp(`cannot bind socket \\(Address already in use\\).*${heldPort}`),
    );
    expect(refusedResult.error).toMatch(/the last good config stays installed/);
    expect(installed()).toBe(lastGood.files.haproxy);
    expect(applied()).toBe(lastGood.sha256);

    // Act 3: the applied bundle again while its own port is held: not "unchanged, ok"
    desired = lastGood;
    const squatter2 = await squat(lastGoodPort);
    let unchanged: AgentResult;
    try {
      unchanged = await sync();
    } finally {
      await release(squatter2);
    }
    // Assess 3
    expect(unchanged).toMatchObject({ ok: false, action: 'unchanged' });
    expect(unchanged.error).toMatch(/cannot bind socket \(Address already in use\)/);
    const unchangedOk = await sync();
    expect(unchangedOk, unchangedOk.error).toMatchObject({ ok: true, action: 'unchanged' });

    // Assess 4: HAProxy starts on what sync left installed
    const haproxy = await startLocalHaproxy({
      dir: join(dir, 'haproxy'),
      configPath: config.haproxy.configPath,
      host,
    });
    try {
      expect((await haproxy.showProc()).workers.length).toBe(1);
    } finally {
      await haproxy.stop();
    }
  });

  it("a running host: the refusal carries HAProxy's reason; the same bundle is not reloaded again while a trial start still fails; --force reloads; once the port is free it applies", async () => {
    // Prepare
    const heldPort = await freePort();
    const refused = stack.render([replica], { previous: good, port: heldPort });
    const squatter = await squat(heldPort);
    try {
      const before = await reloads();

      // Act: the first apply, a resend (the next tick), a forced one
      const first = await stack.apply(refused);
      const afterFirst = await reloads();
      const second = await stack.apply(refused);
      const afterSecond = await reloads();
      const forced = await applyBundle(
        { ...createApplyDeps(stack.config), loadBundle: async () => refused },
        { sha256: refused.sha256, force: true },
      );
      const afterForced = await reloads();

      // Assess
      expect(first).toMatchObject({ ok: false, action: 'rollback' });
      expect(first.error).toMatch(/HAProxy refused the new config at reload/);
      expect(first.error).toMatch(
        new RegExp(`cannot bind socket \\(Address already in use\\).*${heldPort}`),
      );
      expect(first.error).toMatch(/restored the last-known-good config/);
      expect(afterFirst).toBe(before + 2);
      expect(second).toMatchObject({ ok: false, action: 'unchanged' });
      expect(second.error).toMatch(/refused this bundle at reload 1 time\(s\)/);
      expect(second.error).toMatch(
        /still: HAProxy cannot start on the config.*Address already in use.*not reloaded/,
      );
      expect(afterSecond).toBe(afterFirst);
      expect(forced).toMatchObject({ ok: false, action: 'rollback' });
      expect(afterForced).toBe(afterSecond + 2);
      expect(new StateStore(stack.config.stateDir).readState().refused).toMatchObject({
        sha256: refused.sha256,
        count: 2,
      });
      expect(readFileSync(stack.config.haproxy.configPath, 'utf8')).toBe(good.files.haproxy);
    } finally {
      await release(squatter);
    }
    // The port is free: the next resend passes its trial and applies, and the refusal is gone.
    const applied = await stack.apply(refused);
    expect(applied, applied.error).toMatchObject({ ok: true, action: 'reload' });
    expect(new StateStore(stack.config.stateDir).readState().refused).toBeUndefined();
    const back = stack.render([replica], { previous: refused, balance: 'roundrobin' });
    expect(await stack.apply(back)).toMatchObject({ ok: true, action: 'reload' });
    good = back;
  });
});

describe("PgBouncer's [databases] include", () => {
  /** Every entry's host: the placeholder the agent expands (contracts/host.ts). */
  const HOST = PGBOUNCER_LISTEN_HOST;
  /** The applied bundle with more aliases on its cluster and this include text. */
  function withInclude(lines: (port: number) => string[], aliases: string[]): Bundle {
    const cluster = good.clusters[0] as Bundle['clusters'][number];
    return sealBundle(
      {
        ...good,
        clusters: [
          { ...cluster, databases: aliases.map((alias) => ({ alias, dbname: 'postgres' })) },
        ],
        files: {
          ...good.files,
          pgbouncerDatabases: ['[databases]', ...lines(cluster.port), ''].join('\n'),
        },
      },
      new Date(),
    );
  }
  /** SHOW DATABASES on PgBouncer's admin console: the names it serves. */
  const served = async () => {
    const client = new pg.Client({ ...stack.pgbouncer.admin, database: 'pgbouncer' });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query('SHOW DATABASES')).rows.map((r) => String(r.name)).sort();
    } finally {
      await client.end();
    }
  };

  it('a line PgBouncer rejects halfway (RELOAD still answers success): the agent reports failure and restores the last good include; PgBouncer serves the old aliases', async () => {
    // Prepare: written directly, past any admin validation; `pool_mode=bogus` stops 1.18's
    // RELOAD at that line, so `orders_b` would never load and nothing removed would be dropped
    const halfLoaded = withInclude(
      (port) => [
        `${ALIAS} = host=${HOST} port=${port} dbname=postgres`,
        `orders_ro = host=${HOST} port=${port} dbname=postgres pool_mode=bogus`,
        `orders_b = host=${HOST} port=${port} dbname=postgres`,
      ],
      [ALIAS, 'orders_ro', 'orders_b'],
    );
    const before = await served();

    // Act
    const result = await stack.apply(halfLoaded);

    // Assess
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/PgBouncer did not load the bundle's \[databases\] include/);
    expect(result.error).toMatch(/missing: orders_ro, orders_b/);
    expect(result.error).toMatch(
      new RegExp(
        `restored the last good include \\(${good.sha256}\\); PgBouncer serves its 1 alias`,
      ),
    );
    expect(readFileSync(stack.config.pgbouncer.databasesPath, 'utf8')).toBe(
      installedInclude(good, stack.config.haproxy.host),
    );
    expect(await served()).toEqual(before);
    expect(before).toEqual([ALIAS, 'pgbouncer']);
    expect(new StateStore(stack.config.stateDir).readState().appliedSha256).toBe(good.sha256);
    const [inRecovery] = (await queryThroughPgbouncer(stack, 'select pg_is_in_recovery()')).split(
      '|',
    );
    expect(inRecovery).toBe('t');
    // The same apply again is not "unchanged, ok" either: it is retried (and refused again).
    const retried = await stack.apply(halfLoaded);
    expect(retried.ok).toBe(false);
  });

  it("an alias named after PgBouncer's admin database is refused before anything changes", async () => {
    // Prepare
    const reserved = withInclude(
      (port) => [
        `${ALIAS} = host=${HOST} port=${port} dbname=postgres`,
        `pgbouncer = host=${HOST} port=${port} dbname=postgres`,
      ],
      [ALIAS, 'pgbouncer'],
    );
    const before = {
      include: readFileSync(stack.config.pgbouncer.databasesPath, 'utf8'),
      reloads: await reloads(),
      served: await served(),
    };

    // Act
    const result = await stack.apply(reserved);

    // Assess
    expect(result).toMatchObject({ ok: false, action: 'unchanged' });
    expect(result.error).toMatch(
      /"pgbouncer" is PgBouncer's reserved admin database.*nothing changed/,
    );
    expect(readFileSync(stack.config.pgbouncer.databasesPath, 'utf8')).toBe(before.include);
    expect(await reloads()).toBe(before.reloads);
    expect(await served()).toEqual(before.served);
  });

  it('a good include with two aliases applies and both are served (the check is not too strict)', async () => {
    // Prepare
    const two = withInclude(
      (port) => [
        `${ALIAS} = host=${HOST} port=${port} dbname=postgres`,
        `orders_b = host=${HOST} port=${port} dbname=postgres`,
      ],
      [ALIAS, 'orders_b'],
    );
    // Act
    const result = await stack.apply(two);
    // Assess
    expect(result, result.error).toMatchObject({ ok: true });
    expect(await served()).toEqual([ALIAS, 'orders_b', 'pgbouncer']);
    // Back to one alias: orders_b is dropped by PgBouncer too.
    const back = stack.render([replica], { previous: good, balance: 'roundrobin' });
    expect(await stack.apply(back)).toMatchObject({ ok: true });
    expect(await served()).toEqual([ALIAS, 'pgbouncer']);
    good = back;
  });
});

describe('readiness endpoint covers PgBouncer', () => {
  it('200 while HAProxy and PgBouncer serve the applied bundle; 503 when PgBouncer does not answer or lacks an alias', async () => {
    // Prepare
    const state = new StateStore(stack.config.stateDir);
    const start = (admin: { host: string; port: number; user: string }, stateDir: string) =>
      startReadinessServer(
        { appliedSha256: () => new StateStore(stateDir).readState().appliedSha256 },
        {
          address: '127.0.0.1',
          port: 0,
          statsSocketPath: stack.haproxy.statsSocket,
          pgbouncer: { admin, stateDir },
          log: silentLog,
        },
      );
    // A state dir whose applied bundle has an alias PgBouncer does not serve.
    const otherState = join(stack.dir, 'other-state');
    const extra = sealBundle(
      {
        ...good,
        clusters: good.clusters.map((c) => ({
          ...c,
          databases: [...c.databases, { alias: 'orders_gone', dbname: 'postgres' }],
        })),
      },
      new Date(),
    );
    new StateStore(otherState).ensureDir();
    new StateStore(otherState).writeAppliedBundle(extra);
    new StateStore(otherState).writeState({ appliedSha256: extra.sha256 });
    const servers = [
      await start(stack.pgbouncer.admin, stack.config.stateDir),
      await start({ ...stack.pgbouncer.admin, port: await freePort() }, stack.config.stateDir),
      await start(stack.pgbouncer.admin, otherState),
    ];
    try {
      // Act
      const answers = await Promise.all(
        servers.map(async (s) => {
          const res = await fetch(`http://127.0.0.1:${s.port}/ready`);
          return { status: res.status, body: await res.text() };
        }),
      );
      // Assess
      expect(answers[0]).toEqual({
        status: 200,
        body: `ready ${state.readState().appliedSha256}\n`,
      });
      expect(answers[1]).toEqual({
        status: 503,
        body: 'not ready: PgBouncer admin console unreachable\n',
      });
      expect(answers[2]).toEqual({
        status: 503,
        body: 'not ready: PgBouncer does not serve 1 alias(es) of the bundle\n',
      });
    } finally {
      for (const s of servers) await s.close();
    }
  });
});

describe('reload timing and versions', () => {
  it('a reload slower than 5 s (a stalled start) succeeds within the configured reload timeout', async () => {
    // Prepare: HAProxy's start stalls ~6 s before the new worker is up, as with a slow
    // resolver (a Lua init that sleeps; haproxy -c does not run it). Reload timeout: 10 s.
    const lua = join(stack.dir, 'slow-start.lua');
    writeFileSync(lua, 'core.register_init(function() os.execute("sleep 6") end)\n');
    const base = stack.render([replica], { previous: good });
    const slow = sealBundle(
      {
        ...base,
        structureSha256: 'f'.repeat(64), // a structural change: reload
        files: {
          ...base.files,
          haproxy: base.files.haproxy.replace(/^global\n/m, `global\n    lua-load ${lua}\n`),
        },
      },
      new Date(),
    );
    expect(slow.files.haproxy).toContain('lua-load');
    const before = await stack.haproxy.showProc();

    // Act
    const result = await stack.apply(slow);

    // Assess
    expect(result, result.error).toMatchObject({ ok: true, action: 'reload' });
    expect(result.durationMs).toBeGreaterThanOrEqual(5_000);
    const after = await stack.haproxy.showProc();
    expect(after.master.reloads).toBe(before.master.reloads + 1);
    expect(after.workers[0]?.pid).not.toBe(before.workers[0]?.pid);
    console.log(`slow reload applied in ${result.durationMs} ms`);
    // Back to the plain config (a fast reload).
    expect(await stack.apply(base)).toMatchObject({ ok: true, action: 'reload' });
    good = base;
  });

  it("reports the host's HAProxy and PgBouncer versions, and refuses a bundle needing a newer PgBouncer", async () => {
    // Prepare
    const pgbouncerVersion = await new PgbouncerAdmin(stack.pgbouncer.admin).version();
    const haproxyVersion = (await stack.haproxy.showProc()).master.version;
    const [major, minor] = pgbouncerVersion.split('.').map(Number) as [number, number];
    const newer = sealBundle(
      {
        ...stack.render([replica], { previous: good, balance: 'random' }),
        requires: { pgbouncer: `${major}.${minor + 1}` },
      },
      new Date(),
    );
    const reloadsBefore = await reloads();

    // Act
    const same = await stack.apply(good);
    const refused = await stack.apply(newer);

    // Assess
    expect(same).toMatchObject({
      ok: true,
      action: 'unchanged',
      versions: { haproxy: haproxyVersion, pgbouncer: pgbouncerVersion },
    });
    expect(refused).toMatchObject({ ok: false, action: 'unchanged' });
    expect(refused.error).toBe(
      `the bundle requires pgbouncer >= ${major}.${minor + 1} (host has ${pgbouncerVersion}); nothing changed`,
    );
    expect(await reloads()).toBe(reloadsBefore);
    expect(readFileSync(stack.config.haproxy.configPath, 'utf8')).toBe(good.files.haproxy);
  });
});
