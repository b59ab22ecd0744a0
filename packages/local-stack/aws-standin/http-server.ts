import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '@aurora-haproxy/contract/error-message';

/** What a stand-in handler returns: status, content type, body. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface RunningHttpServer {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A stand-in's HTTP server on 127.0.0.1 (port 0 = the OS picks a free one, so no race with a
 * port chosen beforehand). Only loopback; bodies above 1 MiB are refused.
 */
export async function startHttpServer(
  name: string,
  handle: (request: HttpRequest) => Promise<HttpAnswer>,
  port = 0,
): Promise<RunningHttpServer> {
  const server: Server = createServer((req, res) => {
    void serve(req, res);
  });
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = await readBody(req);
      const answer = await handle({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body,
      });
      res.writeHead(answer.status, {
        'content-type': answer.contentType,
        'content-length': Buffer.byteLength(answer.body),
        'x-amzn-requestid': cryptoRequestId(),
        ...answer.headers,
      });
      res.end(answer.body);
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${name} stand-in failed: ${errorMessage(error)}`);
    }
  }
  // Keep-alive connections from SDK clients must not hold close() open.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A request's body as text, refused past MAX_BODY_BYTES (the boot stand-ins use it too). */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function cryptoRequestId(): string {
  return globalThis.crypto.randomUUID();
}
