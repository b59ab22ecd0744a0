import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HaproxyReloadError } from '../../../../../agent/haproxy/errors';
import { HaproxyMasterCli } from '../../../../../agent/haproxy/master-cli';

/**
 * HaproxyMasterCli.reload against a stand-in master CLI on a unix socket (no network): the 3.0
 * answer shapes (Success=1 / Success=0 + startup log), 2.6's silent close, and an answer later
 * than the reload timeout, which show proc decides.
 */
const proc = (reloads: number, failed: number, worker: number) =>
  `#<PID>          <type>          <reloads>       <uptime>        <version>
100             master          ${reloads} [failed: ${failed}]   0d00h00m14s     3.0.11-1
# workers
${worker}             worker          0               0d00h00m09s     3.0.11-1
# programs
`;

interface Fake {
  /** What show proc answers, by reload count so far. */
  procAfter: (reloadsSent: number) => string;
  /** What reload does with its connection. */
  onReload: (socket: Socket) => void;
}

let dir: string;
let server: Server | undefined;
let reloadsSent = 0;
const open = new Set<Socket>();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ah-master-cli-'));
  reloadsSent = 0;
});

afterEach(async () => {
  for (const socket of open) socket.destroy();
  open.clear();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function fakeMaster(fake: Fake): Promise<string> {
  const path = join(dir, 'master.sock');
  // allowHalfOpen: the client half-closes after its command, as HAProxy lets it.
  server = createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    let line = '';
    socket.on('data', (chunk) => {
      line += chunk.toString();
      if (!line.includes('\n')) return;
      if (line.startsWith('show proc')) socket.end(fake.procAfter(reloadsSent));
      else if (line.startsWith('reload')) {
        reloadsSent++;
        fake.onReload(socket);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server?.listen(path, () => r()));
  return path;
}

describe('HaproxyMasterCli.reload', () => {
  it('3.0 Success=1: confirmed by the new worker in show proc', async () => {
    // Prepare
    const path = await fakeMaster({
      procAfter: (n) => (n === 0 ? proc(0, 0, 200) : proc(1, 0, 201)),
      onReload: (s) =>
        setTimeout(() => s.end('Success=1\n--\n[NOTICE] (1) : Loading success.\n'), 100),
    });
    // Act
    const outcome = await new HaproxyMasterCli(path, { confirmTimeoutMs: 3_000 }).reload();
    // Assess
    expect(outcome.newWorkerPid).toBe(201);
  });

  it("3.0 Success=0: a refusal carrying HAProxy's reason, without waiting for show proc", async () => {
    // Prepare: show proc would never show a new worker
    const path = await fakeMaster({
      procAfter: () => proc(0, 0, 200),
      onReload: (s) =>
        s.end(
          'Success=0\n--\n[ALERT]    (1) : Binding [/x.cfg:9] for proxy a: cannot bind socket (Address already in use) for [127.0.0.1:1]\n',
        ),
    });
    const started = Date.now();
    // Act
    const error = await new HaproxyMasterCli(path, { confirmTimeoutMs: 10_000 })
      .reload()
      .catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(HaproxyReloadError);
    expect((error as HaproxyReloadError).refused).toBe(true);
    expect((error as HaproxyReloadError).reason).toMatch(
      /cannot bind socket \(Address already in use\)/,
    );
    expect(errorMessage(error)).toMatch(
      /^HAProxy refused the new config at reload: Binding \[line 9\]/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('2.6 (no answer, closed): show proc decides, a failed count is a refusal', async () => {
    // Prepare
    const path = await fakeMaster({
      procAfter: (n) => (n === 0 ? proc(0, 0, 200) : proc(1, 1, 200)),
      onReload: (s) => s.end(),
    });
    // Act
    const error = await new HaproxyMasterCli(path, { confirmTimeoutMs: 3_000 })
      .reload()
      .catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(HaproxyReloadError);
    expect((error as HaproxyReloadError).refused).toBe(true);
    expect((error as HaproxyReloadError).reason).toBeUndefined();
    expect(errorMessage(error)).toMatch(/failed reloads 0 -> 1/);
  });

  it('waits for the answer up to the reload timeout, and a late answer is checked against show proc, not taken as failure', async () => {
    // Prepare: the answer never comes within the timeout; the new worker is up anyway
    const path = await fakeMaster({
      procAfter: (n) => (n === 0 ? proc(0, 0, 200) : proc(1, 0, 202)),
      onReload: () => {}, // holds the connection
    });
    const started = Date.now();
    // Act
    const outcome = await new HaproxyMasterCli(path, { confirmTimeoutMs: 700 }).reload();
    // Assess: it waited the reload timeout (not the socket's default), then show proc confirmed
    expect(outcome.newWorkerPid).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
  });

  it('an answer slower than 5 s is still read when the reload timeout allows it', async () => {
    // Prepare: Success=1 after 5.5 s (the socket default used to cut it at 5 s)
    const path = await fakeMaster({
      procAfter: (n) => (n === 0 ? proc(0, 0, 200) : proc(1, 0, 203)),
      onReload: (s) => setTimeout(() => s.end('Success=1\n'), 5_500),
    });
    // Act
    const outcome = await new HaproxyMasterCli(path, { confirmTimeoutMs: 8_000 }).reload();
    // Assess
    expect(outcome.newWorkerPid).toBe(203);
  }, 15_000);
});
