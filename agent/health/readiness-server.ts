import { createServer, type Server } from 'node:http';
import type { Log } from '@aurora-haproxy/contract/log';
import { sendSocketCommand } from '../haproxy/unix-socket';
import type { PgbouncerAdminTarget } from '../pgbouncer/admin';
import { pgbouncerServes } from './readiness-pgbouncer';

/**
 * The host's readiness endpoint for the NLB target group: `GET /ready` answers 200 only when
 * this host can serve: an applied bundle is loaded (a fresh host fails until the boot sync
 * applied one), when the stats socket is configured HAProxy answers on it, and when PgBouncer's
 * admin console is configured PgBouncer answers and serves every alias of the applied bundle
 * (readiness-pgbouncer.ts; a half-loaded include is not ready). Anything
 * else is 503 with the reason; other paths 404. It reveals nothing but that (the NLB's
 * security group is the only one allowed to reach it, and it must listen on the host's
 * address, not loopback, for the NLB to reach it).
 */
export interface ReadinessSource {
  appliedSha256(): string | null;
}

export interface ReadinessServer {
  port: number;
  close(): Promise<void>;
}

/** HAProxy's liveness is asked at most this often; the NLB checks every 10 s. */
const HAPROXY_CHECK_TTL_MS = 1000;

export async function startReadinessServer(
  source: ReadinessSource,
  options: {
    address: string;
    port: number;
    statsSocketPath?: string;
    /** PgBouncer's admin console and the agent's state dir (the applied bundle's aliases). */
    pgbouncer?: { admin: PgbouncerAdminTarget; stateDir: string };
    log: Log;
  },
): Promise<ReadinessServer> {
  // Only a success is cached: a failure is asked again on the next request.
  let aliveAt: number | undefined;
  const haproxyAlive = async (): Promise<{ ok: boolean; reason: string }> => {
    if (!options.statsSocketPath) return { ok: true, reason: '' };
    if (aliveAt !== undefined && Date.now() - aliveAt < HAPROXY_CHECK_TTL_MS) {
      return { ok: true, reason: '' };
    }
    aliveAt = undefined;
    try {
      const info = await sendSocketCommand(options.statsSocketPath, 'show info', 500);
      if (!info.includes('Pid:')) return { ok: false, reason: 'HAProxy stats socket gave no info' };
      aliveAt = Date.now();
      return { ok: true, reason: '' };
    } catch {
      return { ok: false, reason: 'HAProxy stats socket unreachable' };
    }
  };

  const server: Server = createServer((req, res) => {
    if (req.url !== '/ready') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' })
        .end('method not allowed\n');
      return;
    }
    void (async () => {
      const sha = source.appliedSha256();
      let alive = sha === null ? undefined : await haproxyAlive();
      if (sha !== null && alive?.ok && options.pgbouncer) {
        alive = await pgbouncerServes(options.pgbouncer, sha);
      }
      const [status, body] =
        sha === null
          ? [503, 'not ready: no bundle applied\n']
          : !alive?.ok
            ? [503, `not ready: ${alive?.reason}\n`]
            : [200, `ready ${sha}\n`];
      res.writeHead(status, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    })();
  });
  server.requestTimeout = 5000;
  server.headersTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  options.log.info('readiness endpoint up', { address: options.address, port });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
