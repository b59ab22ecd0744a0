import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLog } from '@aurora-haproxy/contract/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HealthDaemon, runServe } from '../../../../agent/health/serve';
import { renderBundle } from '../../../../functions/render/render-bundle';
import { sleep, waitFor } from '../../../../packages/local-stack/process/wait';
import { FIXED_NOW, member, registryCluster, topology } from '../../../unit/render/fixtures';
import { freePort, writeAppliedBundle } from './fixture';

/**
 * The NLB readiness endpoint of the daemon: 503 until a bundle is applied, 200 once it is
 * and HAProxy answers on its stats socket, 503 again when HAProxy stops answering.
 */
describe('readiness endpoint (GET /ready)', () => {
  let dir: string;
  let daemon: HealthDaemon;
  let fakeHaproxy: Server | undefined;
  const statsSocket = () => join(dir, 'admin.sock');
  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`http://127.0.0.1:${daemon.readinessPort}${path}`, { method });
    return { status: res.status, body: await res.text() };
  };
  const startFakeHaproxy = () =>
    new Promise<Server>((resolve) => {
      const server = createServer((socket) => {
        socket.resume(); // read the command, so the client's FIN closes the socket
        socket.on('error', () => undefined); // a client that resets is not this test's failure
        socket.end('Name: HAProxy\nPid: 4242\n');
      });
      server.listen(statsSocket(), () => resolve(server));
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ah-ready-'));
    daemon = await runServe(
      {
        checkPort: await freePort(),
        stateDir: join(dir, 'state'),
        statsSocketPath: statsSocket(),
        readiness: { address: '127.0.0.1', port: 0 },
        user: 'postgres',
      },
      { log: silentLog },
    );
  });
  afterAll(async () => {
    await daemon?.close();
    fakeHaproxy?.close();
  });

  it('is 503 before any bundle is applied', async () => {
    // Act
    const res = await get('/ready');

    // Assess
    expect(res).toEqual({ status: 503, body: 'not ready: no bundle applied\n' });
  });

  it('is 200 with the applied sha once a bundle is applied and HAProxy answers', async () => {
    // Prepare: a bundle whose servers are closed loopback ports (probes fail; readiness
    // is about the host, not the servers)
    const port = await freePort();
    const bundle = renderBundle(
      {
        clusters: [registryCluster('orders', 15432)],
        topologies: new Map([
          [
            'orders',
            topology('orders', [
              member('writer-1', '127.0.0.1', { isWriter: true, port }),
              member('reader-1', '127.0.0.1', { port: port + 1 }),
            ]),
          ],
        ]),
      },
      FIXED_NOW,
    );
    fakeHaproxy = await startFakeHaproxy();

    // Act: the state dir did not exist when the daemon started (the poll finds it)
    mkdirSync(join(dir, 'state'));
    writeAppliedBundle(join(dir, 'state'), bundle);
    await waitFor('the bundle to load', () => daemon.status().sha256 === bundle.sha256);
    const res = await get('/ready');

    // Assess
    expect(res).toEqual({ status: 200, body: `ready ${bundle.sha256}\n` });
  });

  it('is 503 when HAProxy stops answering on its stats socket', async () => {
    // Prepare
    await new Promise<void>((resolve) => fakeHaproxy?.close(() => resolve()));
    rmSync(statsSocket(), { force: true });
    await sleep(1100); // the HAProxy answer is cached for 1 s

    // Act
    const res = await get('/ready');

    // Assess
    expect(res).toEqual({ status: 503, body: 'not ready: HAProxy stats socket unreachable\n' });
  });

  it('serves nothing else', async () => {
    // Act
    const other = await get('/status');
    const post = await get('/ready', 'POST');

    // Assess
    expect(other.status).toBe(404);
    expect(post.status).toBe(405);
  });
});
