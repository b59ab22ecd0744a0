import { createConnection } from 'node:net';
import type { DaemonStatus } from './check-protocol';
import { DaemonStatusError } from './errors';

/** Ask a running daemon for its verdicts (`status` on the check port); used by `status`. */
export function queryDaemonStatus(
  port: number,
  address = '127.0.0.1',
  timeoutMs = 2000,
): Promise<DaemonStatus> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = createConnection({ host: address, port });
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(
        new DaemonStatusError(`health daemon ${address}:${port} did not answer in ${timeoutMs} ms`),
      );
    });
    socket.on('connect', () => socket.write('status\n'));
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', (cause) =>
      reject(new DaemonStatusError(`health daemon ${address}:${port} unreachable`, { cause })),
    );
    socket.on('close', () => {
      try {
        resolve(JSON.parse(text) as DaemonStatus);
      } catch (cause) {
        reject(new DaemonStatusError('health daemon status is not JSON', { cause }));
      }
    });
  });
}
