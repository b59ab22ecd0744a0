import { createServer, type Server, type Socket } from 'node:net';
import type { Log } from '@aurora-haproxy/contract/log';
import { answerCheckRequest, type VerdictSource } from './check-protocol';

/**
 * The check listener on 127.0.0.1:<checkPort> (loopback only): HAProxy's tcp-check and
 * postgresqlchk connect, send one line, read one line. The answer comes from the cached
 * verdicts (no I/O on the request path), so it takes microseconds, not a probe.
 * A client that sends no complete line within `idleMs`, or more than MAX_LINE bytes, is
 * cut off.
 */
export const MAX_LINE = 512;

export interface CheckServer {
  port: number;
  address: string;
  close(): Promise<void>;
}

export async function startCheckServer(
  source: VerdictSource,
  options: {
    address: string;
    port: number;
    log: Log;
    idleMs?: number;
    now?: () => number;
  },
): Promise<CheckServer> {
  const now = options.now ?? Date.now;
  const idleMs = options.idleMs ?? 2000;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(idleMs, () => socket.destroy());
    let buffer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end < 0) {
        if (buffer.length > MAX_LINE) socket.destroy();
        return;
      }
      socket.removeAllListeners('data');
      socket.end(`${answerCheckRequest(buffer.slice(0, end), source, now())}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) =>
    options.log.error('check listener error', { error: error.message }),
  );
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  options.log.info('check listener up', { address: options.address, port });
  return {
    port,
    address: options.address,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
