import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HOST_PORTS, HOST_ENV } from '@aurora-haproxy/contract/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderBundle } from '../../../functions/render/render-bundle';
import {
  type ManagedProcess,
  startProcess,
} from '../../../packages/local-stack/process/managed-process';
import { assertPortFree } from '../../../packages/local-stack/process/ports';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { createHostEnv, HAPROXY_BIN } from '../../support/haproxy-check';
import {
  FIXED_NOW,
  member,
  registryCluster,
  topologies,
  topology,
} from '../../unit/render/fixtures';

/**
 * HAProxy's built-in Prometheus exporter, served by the rendered config at
 * http://<listen address>:8404/metrics (loopback: 127.0.0.1 on a host) for those who scrape;
 * the stats page stays at /. Run by a real HAProxy 2.6 (Debian's build has the service).
 */
function get(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.end();
  });
}

describe('Prometheus exporter on loopback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const listenAddress = `127.78.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  let haproxy: ManagedProcess | undefined;

  beforeAll(async () => {
    // The binary has the service built in (else this test must fail, not skip).
    expect(execFileSync(HAPROXY_BIN, ['-vv'], { encoding: 'utf8' })).toMatch(
      /Available services : .*prometheus-exporter/,
    );
    await assertPortFree(DEFAULT_HOST_PORTS.haproxyStats, listenAddress);
    const env = createHostEnv(dir, { [HOST_ENV.listenAddress]: listenAddress });
    const bundle = renderBundle(
      {
        clusters: [registryCluster('prom', 25432)],
        topologies: topologies(
          topology('prom', [
            member('p-writer', '127.0.0.1', { isWriter: true, port: 1 }),
            member('p-reader-1', '127.0.0.1', { port: 2 }),
          ]),
        ),
      },
      FIXED_NOW,
    );
    const config = join(dir, 'haproxy.cfg');
    const logFile = join(dir, 'haproxy.log');
    writeFileSync(config, bundle.files.haproxy);
    haproxy = startProcess({
      name: 'haproxy-prometheus',
      command: HAPROXY_BIN,
      args: ['-W', '-db', '-f', config],
      env: { PATH: process.env.PATH, ...env },
      logFile,
    });
    const started = haproxy;
    await waitFor('haproxy to serve the stats port', async () => {
      if (!started.running) throw new Error(`haproxy exited:\n${readFileSync(logFile, 'utf8')}`);
      return get(listenAddress, DEFAULT_HOST_PORTS.haproxyStats, '/')
        .then(() => true)
        .catch(() => false);
    });
  });

  afterAll(async () => {
    await haproxy?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves /metrics in the Prometheus text format, per server', async () => {
    const { status, body } = await get(listenAddress, DEFAULT_HOST_PORTS.haproxyStats, '/metrics');
    expect(status).toBe(200);
    expect(body).toMatch(/^# TYPE haproxy_process_/m);
    expect(body).toMatch(/haproxy_server_current_sessions\{proxy="aurora-prom",server="r01"\}/);
    expect(body).toMatch(/haproxy_server_check_failures_total\{proxy="aurora-prom",server="r01"\}/);
  });

  it('keeps the stats page at /', async () => {
    const { status, body } = await get(listenAddress, DEFAULT_HOST_PORTS.haproxyStats, '/');
    expect(status).toBe(200);
    expect(body).toMatch(/Statistics Report/);
  });
});
