import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostEnvironment } from '../../../../agent/config';
import { ADMIN } from '../../../../agent/haproxy/servers-state';
import { validateConfig } from '../../../../agent/haproxy/validate';
import { StateStore } from '../../../../agent/state/state-store';
import type { Bundle } from '../../../../functions/contracts/bundle';
import type { PgNode } from '../../../../infra/local/postgres-cluster';
import { freePort } from '../../../../infra/local/process/ports';
import { waitFor } from '../../../../infra/local/process/wait';
import {
  type ApplyStack,
  buildAgent,
  queryThroughPgbouncer,
  runAgent,
  startApplyStack,
} from './stack';

/**
 * Issue #3 integration test 5: the agent is killed with SIGKILL at random points of 24
 * applies (membership-only and structural, alternating); after every kill HAProxy still runs
 * a valid, whole config, and a final apply converges.
 */
const KILLS = 20;
const MAX_ATTEMPTS = 32;

let stack: ApplyStack;
let agent: string;
let bundles: Bundle[];

beforeAll(async () => {
  stack = await startApplyStack({ replicas: 2 });
  agent = await buildAgent(stack.dir);
  const [a, b] = stack.pg.replicas() as [PgNode, PgNode];
  const otherPort = await freePort();
  const base = stack.render([a]);
  const both = stack.render([a, b], { previous: base });
  const onlyB = stack.render([b], { previous: both });
  const moved = stack.render([a, b], { previous: both, port: otherPort });
  const roundRobin = stack.render([a], { previous: base, balance: 'roundrobin' });
  bundles = [base, both, onlyB, moved, roundRobin];
});

afterAll(async () => {
  await stack?.stop();
});

describe('crash safety', () => {
  it(`5. kill -9 at random points of ${KILLS} applies leaves HAProxy on a valid config; the next apply converges`, async () => {
    // Prepare
    const files = bundles.map((b) => stack.bundleFile(b));
    const wholeConfigs = new Set([stack.emptyBundle, ...bundles].map((b) => b.files.haproxy));
    const wholeIncludes = new Set(
      [stack.emptyBundle, ...bundles].map((b) => b.files.pgbouncerDatabases),
    );
    const env = { AURORA_HAPROXY_AGENT_CONFIG: stack.configPath };
    const outcomes = { killed: 0, finished: 0 };
    const stages = new Map<string, number>();
    let previous = -1;

    // How long an apply runs after it decided (measured on runs that were not killed).
    let applyingMs = 400;
    for (let i = 0; outcomes.killed < KILLS && i < MAX_ATTEMPTS; i++) {
      let pick = Math.floor(Math.random() * bundles.length);
      if (pick === previous) pick = (pick + 1) % bundles.length;
      previous = pick;
      const bundle = bundles[pick] as Bundle;

      // Act: most kills land after the agent decided what to do (it holds the lock and is
      // about to change files / HAProxy), anywhere in the time an apply takes from there;
      // every fourth lands at any time since the start.
      const kill =
        i % 4 === 3
          ? { delayMs: Math.floor(Math.random() * 1_500) }
          : {
              delayMs: Math.floor(Math.random() * applyingMs * 0.9),
              afterStderr: /^apply [a-f0-9]{64}: /m,
            };
      const run = await runAgent(
        agent,
        ['apply', '--sha256', bundle.sha256, '--bundle-file', files[pick] as string],
        { env, kill },
      );
      if (run.signal === 'SIGKILL') {
        outcomes.killed++;
        const stage = /runtime API:|reloaded:/.test(run.stderr)
          ? 'after HAProxy changed'
          : /^apply /m.test(run.stderr)
            ? 'while applying'
            : 'before deciding';
        stages.set(stage, (stages.get(stage) ?? 0) + 1);
      } else {
        outcomes.finished++;
        if (run.afterMatchMs !== undefined) applyingMs = Math.max(100, run.afterMatchMs);
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
    console.log(
      `crash test: ${outcomes.killed} killed (${JSON.stringify(Object.fromEntries(stages))}), ${outcomes.finished} finished`,
    );
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
    await waitFor(
      'a read through PgBouncer on a reader of the final bundle',
      async () => {
        const [inRecovery, port] = (
          await queryThroughPgbouncer(stack, 'select pg_is_in_recovery(), inet_server_port()')
        ).split('|');
        return inRecovery === 't' && readers.has(Number(port));
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
  });
});
