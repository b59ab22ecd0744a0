import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { silentLog } from '@aurora-haproxy/contract/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerdictSource } from '../../../../agent/health/check-protocol';
import {
  type CheckServer,
  MAX_LINE,
  startCheckServer,
} from '../../../../agent/health/check-server';
import { installPostgresqlchk } from '../../../../agent/health/postgresqlchk-install';

const execFileAsync = promisify(execFile);

/**
 * The real agent/postgresqlchk (bash) run the way HAProxy runs it (cleared environment,
 * 4 arguments) against the real check listener with a fixed verdict source: argument and
 * environment validation, exit codes, the unreachable-daemon choice, and no fork.
 */
const verdictFor: VerdictSource['verdictFor'] = (key) =>
  key === 'aurora-orders/r01'
    ? { key, verdict: { pass: true, reason: 'replica', weightPercent: 100 } }
    : { key, verdict: { pass: false, reason: 'is the writer' } };
const source: VerdictSource = {
  sha256: null,
  verdictFor,
  verdictAt: (key, _address, _port, now) => verdictFor(key, now),
  snapshot: () => [],
};

const GOOD_ENV = {
  PATH: '/nonexistent',
  HAPROXY_PROXY_NAME: 'aurora-orders',
  HAPROXY_SERVER_NAME: 'r01',
};
const GOOD_ARGS = ['/run/ah/sockets/.s.PGSQL.15432', 'NOT_USED', '10.0.0.1', '5432'];

async function run(
  script: string,
  args: string[],
  env: Record<string, string> = GOOD_ENV,
): Promise<{ code: number; stderr: string; ms: number }> {
  const started = Date.now();
  try {
    const { stderr } = await execFileAsync(script, args, { env, timeout: 3000 });
    return { code: 0, stderr, ms: Date.now() - started };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '', ms: Date.now() - started };
  }
}

describe('postgresqlchk (bash thin client of the daemon)', () => {
  let server: CheckServer;
  let script: string;
  let dir: string;
  let silent: Server;
  let silentPort: number;

  beforeAll(async () => {
    server = await startCheckServer(source, { address: '127.0.0.1', port: 0, log: silentLog });
    dir = mkdtempSync(join(tmpdir(), 'ah-chk-'));
    script = installPostgresqlchk(join(dir, 'bin'), server.port);
    // A "daemon" that accepts and never answers.
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    await server?.close();
    silent?.close();
  });

  it('exits 0 on a passing verdict and 1 on a failing one', async () => {
    // Act
    const pass = await run(script, GOOD_ARGS);
    const fail = await run(script, GOOD_ARGS, { ...GOOD_ENV, HAPROXY_SERVER_NAME: 'r02' });

    // Assess
    expect(pass.code).toBe(0);
    expect(fail.code).toBe(1);
  });

  it('accepts an IPv6 server address', async () => {
    // Act
    const result = await run(script, ['NOT_USED', 'NOT_USED', '::1', '5432']);

    // Assess
    expect(result.code).toBe(0);
  });

  it.each([
    ['3 arguments', ['NOT_USED', 'NOT_USED', '10.0.0.1']],
    ['5 arguments', [...GOOD_ARGS, 'x']],
    ['an octet over 255', ['NOT_USED', 'NOT_USED', '10.0.0.256', '5432']],
    ['a host name', ['NOT_USED', 'NOT_USED', 'db.example.com', '5432']],
    ['a command substitution', ['NOT_USED', 'NOT_USED', '$(touch /tmp/x)', '5432']],
    ['an address with a newline', ['NOT_USED', 'NOT_USED', '10.0.0.1\ncheck x', '5432']],
    ['port 0', ['NOT_USED', 'NOT_USED', '10.0.0.1', '0']],
    ['port 65536', ['NOT_USED', 'NOT_USED', '10.0.0.1', '65536']],
    ['a negative port', ['NOT_USED', 'NOT_USED', '10.0.0.1', '-1']],
    ['a port with a space', ['NOT_USED', 'NOT_USED', '10.0.0.1', '54 32']],
    ['an empty proxy address', ['', 'NOT_USED', '10.0.0.1', '5432']],
    ['a proxy port with a space', ['NOT_USED', 'NOT USED', '10.0.0.1', '5432']],
  ])('refuses %s with exit 2 and a message', async (_name, args) => {
    // Act
    const result = await run(script, args);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^postgresqlchk: /);
  });

  it.each([
    ['no HAPROXY_PROXY_NAME', { PATH: '/x', HAPROXY_SERVER_NAME: 'r01' }],
    ['no HAPROXY_SERVER_NAME', { PATH: '/x', HAPROXY_PROXY_NAME: 'aurora-orders' }],
    ['a proxy name with a space', { ...GOOD_ENV, HAPROXY_PROXY_NAME: 'aurora orders' }],
    ['a server name with a newline', { ...GOOD_ENV, HAPROXY_SERVER_NAME: 'r01\nstatus' }],
  ])('refuses %s with exit 2', async (_name, env) => {
    // Act
    const result = await run(script, GOOD_ARGS, env);

    // Assess
    expect(result.code).toBe(2);
  });

  it.each([
    ['a non-numeric port', 'port=abc\n'],
    ['a non-loopback address', 'port=9876\naddress=10.0.0.5\n'],
  ])('refuses a check.conf with %s', async (_name, conf) => {
    // Prepare
    const bin = join(mkdtempSync(join(tmpdir(), 'ah-chk-')), 'bin');
    const copy = installPostgresqlchk(bin, 1);
    writeFileSync(join(bin, 'check.conf'), conf);

    // Act
    const result = await run(copy, GOOD_ARGS);

    // Assess
    expect(result.code).toBe(2);
  });

  it('fails with exit 3 when the daemon does not answer, within its read timeout', async () => {
    // Prepare
    const copy = installPostgresqlchk(
      join(mkdtempSync(join(tmpdir(), 'ah-chk-')), 'bin'),
      silentPort,
    );

    // Act
    const result = await run(copy, GOOD_ARGS);

    // Assess: 0.5 s read timeout, well inside HAProxy's 1 s inter
    expect(result.code).toBe(3);
    expect(result.ms).toBeLessThan(1500);
  });

  it('forks no process (bash builtins only)', async () => {
    // Act: trace process creation by the script (strace itself is the parent)
    const { stderr } = await execFileAsync(
      '/usr/bin/strace',
      [
        '-f',
        '-qq',
        '-e',
        'trace=fork,vfork,clone,clone3',
        '-e',
        'signal=none',
        script,
        ...GOOD_ARGS,
      ],
      { env: GOOD_ENV },
    );

    // Assess
    expect(stderr.split('\n').filter((l) => /clone|fork/.test(l))).toEqual([]);
  });
});

describe('check listener limits', () => {
  let server: CheckServer;
  beforeAll(async () => {
    server = await startCheckServer(source, {
      address: '127.0.0.1',
      port: 0,
      log: silentLog,
      idleMs: 200,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Connect, send `payload`, collect what comes back until the server closes. */
  function exchange(payload: string): Promise<{ reply: string; ms: number }> {
    const started = Date.now();
    return new Promise((resolve) => {
      let reply = '';
      const socket = connect({ host: '127.0.0.1', port: server.port }, () => {
        if (payload) socket.write(payload);
      });
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => {
        reply += c;
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve({ reply, ms: Date.now() - started }));
    });
  }

  it('cuts off a client that sends no line, answering nothing', async () => {
    // Act
    const { reply, ms } = await exchange('aurora-orders/r01');

    // Assess
    expect(reply).toBe('');
    expect(ms).toBeGreaterThanOrEqual(150);
  });

  it('cuts off a line longer than MAX_LINE', async () => {
    // Act
    const { reply } = await exchange('x'.repeat(MAX_LINE + 10));

    // Assess
    expect(reply).toBe('');
  });

  it('answers one line per connection and closes', async () => {
    // Act
    const { reply } = await exchange('aurora-orders/r01\naurora-orders/r02\n');

    // Assess
    expect(reply).toBe('up\n');
  });
});
