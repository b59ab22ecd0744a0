import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_STATE } from '../../../../agent/haproxy/servers-state';
import { queryDaemonStatus } from '../../../../agent/health/status-client';
import { pendingSlotsPath } from '../../../../agent/state/pending-slots';
import { StateStore } from '../../../../agent/state/state-store';
import type { PgNode } from '../../../../packages/local-stack/postgres-cluster';
import { waitFor } from '../../../../packages/local-stack/process/wait';
import { type ApplyStack, startApplyStack } from './stack';

/**
 * Issue 16 item 5 on real processes: an apply that cannot write what must follow its runtime
 * commands (the server-state file in a read-only run directory; haproxy.cfg that cannot be
 * replaced) leaves HAProxy's live state, the file on disk, the applied bundle and the health
 * daemon telling one story, says exactly what ran, and every re-delivery does the same until
 * the fault is gone, when it converges. Read-only = `chattr +i` (root ignores mode bits).
 */
const execFileAsync = promisify(execFile);
let stack: ApplyStack;
let a: PgNode;
let b: PgNode;
const immutable: string[] = [];

beforeAll(async () => {
  stack = await startApplyStack({ replicas: 2 });
  [a, b] = stack.pg.replicas() as [PgNode, PgNode];
});

afterAll(async () => {
  for (const path of immutable) await execFileAsync('chattr', ['-i', path]).catch(() => {});
  await stack?.stop();
});

async function setImmutable(path: string, on: boolean): Promise<void> {
  await execFileAsync('chattr', [on ? '+i' : '-i', path]);
  if (on) immutable.push(path);
}

const r01 = async () =>
  (await stack.haproxy.runtime.showServersState()).rows.find((r) => r.server === 'r01');

/** The four views of what runs agree on `bundle` (and no reload happened since `workers`). */
async function expectOneStory(bundle: Bundle, workers: number[]): Promise<void> {
  const server = bundle.clusters[0]?.servers.find((s) => s.name === 'r01');
  expect(await r01()).toMatchObject({ address: server?.address, port: server?.port });
  expect(readFileSync(stack.config.haproxy.configPath, 'utf8')).toBe(bundle.files.haproxy);
  expect(new StateStore(stack.config.stateDir).readAppliedBundle()?.sha256).toBe(bundle.sha256);
  expect(existsSync(pendingSlotsPath(stack.config.stateDir))).toBe(false);
  const status = await waitFor('the daemon back on the applied bundle alone', async () => {
    const s = await queryDaemonStatus(stack.config.health.checkPort);
    return s.sha256 === bundle.sha256 && s.pendingSha256 === null ? s : undefined;
  });
  expect(status.slots.find((s) => s.slot.endsWith('/r01'))).toMatchObject({
    port: server?.port,
  });
  expect((await stack.haproxy.showProc()).workers.map((w) => w.pid)).toEqual(workers);
  await waitFor(
    'r01 UP again at its server',
    async () => (await r01())?.opState === OP_STATE.running,
    {
      timeoutMs: 15_000,
    },
  );
}

describe('failure paths of a re-address keep live state, file and applied bundle together', () => {
  let before: Bundle;
  let moved: Bundle;

  it('run directory read-only (server-state file not writable): runtime changes undone, no reload claimed; re-deliveries repeat it; converges once writable', async () => {
    // Prepare: r01 = A; the next bundle moves r01's instance to B's address
    before = stack.render([a]);
    expect(await stack.apply(before)).toMatchObject({ ok: true });
    await waitFor('r01 UP', async () => (await r01())?.opState === OP_STATE.running, {
      timeoutMs: 15_000,
    });
    moved = stack.render([{ ...a, port: b.port }], { previous: before });
    const workers = (await stack.haproxy.showProc()).workers.map((w) => w.pid);
    await setImmutable(stack.config.haproxy.host.runDir, true);

    for (let delivery = 1; delivery <= 2; delivery++) {
      // Act
      const result = await stack.apply(moved);

      // Assess: truthful result, one story
      expect(result, JSON.stringify(result)).toMatchObject({ ok: false, action: 'rollback' });
      expect(result.error).toMatch(/server-state file could not be written/);
      expect(result.error).toMatch(/undid the runtime changes/);
      expect(result.error).toMatch(/no reload was tried/);
      expect(result.error).not.toMatch(/reload failed/);
      await expectOneStory(before, workers);
    }

    // Act: the fault is gone; one more delivery
    await setImmutable(stack.config.haproxy.host.runDir, false);
    const result = await stack.apply(moved);

    // Assess
    expect(result).toMatchObject({ ok: true, action: 'runtime' });
    await expectOneStory(moved, workers);
  });

  it('haproxy.cfg cannot be replaced after the runtime commands: undone, the result says so; converges once replaceable', async () => {
    // Prepare: from `moved` back to `before` (r01 re-addressed again)
    const workers = (await stack.haproxy.showProc()).workers.map((w) => w.pid);
    await setImmutable(stack.config.haproxy.configPath, true);

    // Act
    const result = await stack.apply(before);

    // Assess
    expect(result, JSON.stringify(result)).toMatchObject({ ok: false, action: 'rollback' });
    expect(result.error).toMatch(/could not be replaced/);
    expect(result.error).toMatch(/undid the runtime changes/);
    expect(result.error).not.toMatch(/reload failed/);
    await expectOneStory(moved, workers);

    // Act: replaceable again
    await setImmutable(stack.config.haproxy.configPath, false);
    const again = await stack.apply(before);

    // Assess
    expect(again).toMatchObject({ ok: true, action: 'runtime' });
    await expectOneStory(before, workers);
  });
});
