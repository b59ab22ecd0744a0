import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of an AWS API stand-in that counts the calls that pass through it,
 * by API action: `Action=` in a Query-protocol body (RDS) or the X-Amz-Target header
 * (JSON protocol: SSM, Auto Scaling is Query too). Counting here, not inside the stand-in,
 * means the numbers do not depend on how the stand-in is built.
 */
export interface CountingProxy {
  endpoint: string;
  counts(): Record<string, number>;
  total(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(targetEndpoint: string): Promise<CountingProxy> {
  const target = new URL(targetEndpoint);
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const amzTarget = req.headers['x-amz-target'];
      const action =
        (typeof amzTarget === 'string' ? amzTarget.split('.').pop() : undefined) ??
        new URLSearchParams(body.toString('utf8')).get('Action') ??
        'unknown';
      counts.set(action, (counts.get(action) ?? 0) + 1);
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`counting proxy: ${error.message}`);
      });
      upstream.end(body);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => Object.fromEntries(counts),
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => counts.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
