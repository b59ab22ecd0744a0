import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_ENV } from '@aurora-haproxy/contract/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderBundle } from '../../../functions/render/render-bundle';
import {
  type ManagedProcess,
  startProcess,
} from '../../../packages/local-stack/process/managed-process';
import { assertPortFree, freePorts } from '../../../packages/local-stack/process/ports';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { createHostEnv, HAPROXY_BIN, type HostEnv } from '../../support/haproxy-check';
import {
  FIXED_NOW,
  member,
  registryCluster,
  topologies,
  topology,
} from '../../unit/render/fixtures';

/**
 * A rendered config run by a real HAProxy (2.6 or 3.0): proves the check contracts the health team
 * builds against (agent mode: the exact request line, the accepted replies, fail closed
 * without a daemon; external mode: postgresqlchk's arguments and environment), that spare
 * slots start in maintenance and are never checked, and that both listeners come up.
 */
describe('rendered config in a running HAProxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'render-runtime-'));
  // A loopback address of its own, so the stats port 8404 cannot collide with another test.
  const listenAddress = `127.77.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const agentLines: string[] = [];
  const servers: Server[] = [];
  let daemon: Server | undefined;
  let haproxy: ManagedProcess | undefined;
  let env: HostEnv;
  let agentPort: number;
  let externalPort: number;
  let readerAPort: number;

  const listen = (port: number, onConnection: Parameters<typeof createServer>[1]) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer((socket) => {
        // HAProxy may reset a check connection once it has what it needs.
        socket.on('error', () => {});
        onConnection?.(socket);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
      servers.push(server);
    });

  beforeAll(async () => {
    const [checkPort, readerA, readerB, port1, port2] = await freePorts(5);
    agentPort = port1 as number;
    externalPort = port2 as number;
    readerAPort = readerA as number;
    await assertPortFree(8404, listenAddress);
    env = createHostEnv(dir, {
      [HOST_ENV.listenAddress]: listenAddress,
      [HOST_ENV.checkPort]: String(checkPort),
    });
    // Fake agent daemon: records each request line; r02 is down, r01 and w1 up (the reply
    // forms the health daemon uses: "up NN%", "down #reason"; and a bare "up" with CRLF).
    const replies: Record<string, string> = {
      'aurora-rt-agent/r01\n': 'up 100%\n',
      'aurora-rt-agent/r02\n': 'down #replica lag 900 ms > 500 ms\n',
      'aurora-rt-agent/w1\n': 'up\r\n',
    };
    daemon = await listen(checkPort as number, (socket) => {
      socket.once('data', (data) => {
        const line = data.toString('utf8');
        agentLines.push(line);
        socket.end(replies[line] ?? 'unknown\n');
      });
    });
    // Fake postgresqlchk: records its arguments and environment, then passes.
    const record = join(dir, 'postgresqlchk.log');
    const script = join(env[HOST_ENV.binDir], 'postgresqlchk');
    writeFileSync(
      script,
      `#!/bin/sh\necho "$* | $(/usr/bin/env | /usr/bin/sort | /usr/bin/tr '\\n' ' ')" >> '${record}'\nexit 0\n`,
    );
    chmodSync(script, 0o755);

    const readers = [
      member('a-reader-1', '127.0.0.1', { port: readerA }),
      member('a-reader-2', '127.0.0.1', { port: readerB }),
    ];
    const bundle = renderBundle(
      {
        clusters: [
          { ...registryCluster('rt-agent', agentPort, { fallbackToWriter: true }) },
          { ...registryCluster('rt-external', externalPort, { checkMode: 'external' }) },
        ],
        topologies: topologies(
          topology('rt-agent', [
            member('a-writer', '127.0.0.1', { isWriter: true, port: 1 }),
            ...readers,
          ]),
          topology('rt-external', [{ ...readers[0], instanceId: 'e-reader-1' } as never]),
        ),
      },
      FIXED_NOW,
    );
    const config = join(dir, 'haproxy.cfg');
    const logFile = join(dir, 'haproxy.log');
    writeFileSync(config, bundle.files.haproxy);
    haproxy = startProcess({
      name: 'haproxy-render-runtime',
      command: HAPROXY_BIN,
      args: ['-W', '-db', '-f', config],
      env: { PATH: process.env.PATH, ...env },
      logFile,
    });
    const started = haproxy;
    await waitFor('haproxy to open its admin socket', async () => {
      if (!started.running) {
        throw new Error(`haproxy exited:\n${readFileSync(logFile, 'utf8')}`);
      }
      return (await adminCommand(join(env[HOST_ENV.runDir], 'admin.sock'), 'show info')) !== '';
    });
  });

  afterAll(async () => {
    await haproxy?.stop();
    for (const server of servers) server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const stat = async (): Promise<Map<string, string>> => {
    const csv = await adminCommand(join(env[HOST_ENV.runDir], 'admin.sock'), 'show stat');
    const rows = csv.split('\n').filter((l) => l && !l.startsWith('#'));
    return new Map(rows.map((r) => r.split(',')).map((f) => [`${f[0]}/${f[1]}`, f[17] ?? '']));
  };

  it('asks the daemon "<backend>/<slot>\\n" for filled slots only and follows its verdict', async () => {
    // Act
    const status = await waitFor(
      'daemon verdicts applied',
      async () => {
        const s = await stat();
        // Servers start UP before their first check (no state file): wait for all three.
        return new Set(agentLines).size >= 3 &&
          s.get('aurora-rt-agent/r01') === 'UP' &&
          s.get('aurora-rt-agent/w1') === 'UP' &&
          s.get('aurora-rt-agent/r02')?.startsWith('DOWN')
          ? s
          : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    // Assess
    expect(new Set(agentLines)).toEqual(
      new Set(['aurora-rt-agent/r01\n', 'aurora-rt-agent/r02\n', 'aurora-rt-agent/w1\n']),
    );
    expect(status.get('aurora-rt-agent/r03')).toBe('MAINT');
    expect(status.get('aurora-rt-agent/r04')).toBe('MAINT');
  });

  it('runs postgresqlchk with <addr> <port> as $3 $4 and the backend/slot in its environment', async () => {
    // Act
    const record = await waitFor('postgresqlchk to run', () => {
      try {
        return readFileSync(join(dir, 'postgresqlchk.log'), 'utf8') || undefined;
      } catch {
        return undefined;
      }
    });
    const status = await waitFor('external check to pass', async () => {
      const s = await stat();
      return s.get('aurora-rt-external/r01') === 'UP' ? s : undefined;
    });
    // Assess
    const first = record.split('\n')[0] ?? '';
    // $1 $2: the proxy's first bind (a listen section: its unix socket path, NOT_USED).
    const socketPath = join(env[HOST_ENV.socketDir], `.s.PGSQL.${externalPort}`);
    expect(first.startsWith(`${socketPath} NOT_USED 127.0.0.1 ${readerAPort} | `)).toBe(true);
    expect(first).toContain('HAPROXY_PROXY_NAME=aurora-rt-external ');
    expect(first).toContain('HAPROXY_SERVER_NAME=r01 ');
    expect(first).toContain(`PATH=${env[HOST_ENV.binDir]} `);
    expect(first).not.toContain('AURORA_HAPROXY_');
    expect(status.get('aurora-rt-external/r02')).toBe('MAINT');
  });

  it('listens on the cluster unix socket and on the loopback TCP port', async () => {
    // Act / Assess
    const socketPath = join(env[HOST_ENV.socketDir], `.s.PGSQL.${agentPort}`);
    await expect(connects({ path: socketPath })).resolves.toBe(true);
    await expect(connects({ host: listenAddress, port: externalPort })).resolves.toBe(true);
  });

  it('lets the daemon force a verdict at once with "set server ... health", then checks take over', async () => {
    // Act
    const answer = await adminCommand(
      join(env[HOST_ENV.runDir], 'admin.sock'),
      'set server aurora-rt-agent/r01 health down',
    );
    const forced = (await stat()).get('aurora-rt-agent/r01');
    const recovered = await waitFor('r01 back up from its checks', async () =>
      (await stat()).get('aurora-rt-agent/r01') === 'UP' ? true : undefined,
    );
    // Assess
    expect(answer.trim()).toBe('');
    expect(forced).toMatch(/^DOWN/);
    expect(recovered).toBe(true);
  });

  it('fails closed: with no daemon answering, every server of an agent-mode cluster goes down', async () => {
    // Prepare
    await new Promise<void>((resolve) => daemon?.close(() => resolve()) ?? resolve());
    // Act
    const status = await waitFor(
      'servers down without the daemon',
      async () => {
        const s = await stat();
        return ['r01', 'w1'].every((slot) => s.get(`aurora-rt-agent/${slot}`)?.startsWith('DOWN'))
          ? s
          : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    // Assess
    expect(status.get('aurora-rt-agent/BACKEND')).toBe('DOWN');
  });
});

function adminCommand(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    let out = '';
    socket.on('data', (d) => {
      out += d.toString('utf8');
    });
    socket.once('error', reject);
    socket.once('end', () => resolve(out));
    socket.once('connect', () => socket.write(`${command}\n`));
  });
}

function connects(target: { path: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(target as never);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
