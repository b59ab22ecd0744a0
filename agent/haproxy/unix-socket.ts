import { createConnection } from 'node:net';
import { HaproxySocketError } from './errors';

/** HaproxySocketError.code when HAProxy did not answer (or close) within the timeout. */
export const SOCKET_TIMEOUT = 'ETIMEDOUT';

/**
 * One command on an HAProxy CLI socket (stats socket or master socket) in non-interactive
 * mode: connect, send the line, read until HAProxy closes the connection.
 */
export function sendSocketCommand(
  socketPath: string,
  command: string,
  timeoutMs = 5_000,
): Promise<string> {
  if (command.includes('\n')) {
    return Promise.reject(new HaproxySocketError('a CLI command must be a single line'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = createConnection(socketPath);
    socket.setTimeout(timeoutMs);
    socket.on('connect', () => socket.end(`${command}\n`));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('timeout', () => {
      socket.destroy();
      reject(
        new HaproxySocketError(
          `no answer from ${socketPath} within ${timeoutMs} ms`,
          SOCKET_TIMEOUT,
        ),
      );
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        new HaproxySocketError(`${socketPath}: ${error.code ?? error.message}`, error.code, {
          cause: error,
        }),
      );
    });
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
