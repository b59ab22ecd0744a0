import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Signer } from '@aws-sdk/rds-signer';
import { describe, expect, it } from 'vitest';
import {
  createCredentialsProvider,
  IAM_TOKEN_REFRESH_MS,
  parsePgpass,
} from '../../../../agent/health/credentials';

const target = { address: '10.0.0.1', port: 5432, database: 'postgres', user: 'health' };

function pgpassFile(text: string, mode: number): string {
  const path = join(mkdtempSync(join(tmpdir(), 'ah-pgpass-')), 'pgpass');
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

describe('pgpass credentials', () => {
  it('parses libpq format with wildcards and escapes', () => {
    // Act
    const entries = parsePgpass('# comment\n*:5432:*:health:pa\\:ss\\\\word\n\nbroken:line\n');

    // Assess
    expect(entries).toEqual([
      { host: '*', port: '5432', database: '*', user: 'health', password: 'pa:ss\\word' },
    ]);
  });

  it('reads the first matching entry from a 0600 file', async () => {
    // Prepare
    const path = pgpassFile(
      '10.0.0.2:*:*:health:other\n10.0.0.1:5432:postgres:health:s3cret\n',
      0o600,
    );
    const provider = createCredentialsProvider({ mode: 'pgpass', path });

    // Act
    const login = await provider.login(target);

    // Assess
    expect(login).toEqual({ user: 'health', password: 's3cret' });
  });

  it.each([0o644, 0o640, 0o604])(
    'refuses a file with mode %o, naming the path, not the password',
    async (mode) => {
      // Prepare
      const path = pgpassFile('*:*:*:*:s3cret\n', mode);
      const provider = createCredentialsProvider({ mode: 'pgpass', path });

      // Act
      const login = provider.login(target);

      // Assess
      await expect(login).rejects.toThrow(/accessible by group or others.*chmod 600/);
      await expect(login).rejects.not.toThrow(/s3cret/);
    },
  );

  it('fails clearly when the file is missing', async () => {
    // Prepare
    const provider = createCredentialsProvider({ mode: 'pgpass', path: '/nonexistent/pgpass' });

    // Act + Assess
    await expect(provider.login(target)).rejects.toThrow(
      /pgpass file \/nonexistent\/pgpass cannot be read/,
    );
  });
});

describe('IAM auth token credentials', () => {
  it('signs a token per server and signs again before the 15-minute expiry', async () => {
    // Prepare
    let now = 0;
    let signed = 0;
    const provider = createCredentialsProvider(
      { mode: 'iam', region: 'eu-west-1' },
      { now: () => now, signToken: async (t) => `token-${t.address}-${++signed}` },
    );

    // Act
    const first = await provider.login(target);
    now = IAM_TOKEN_REFRESH_MS - 1;
    const cached = await provider.login(target);
    now = IAM_TOKEN_REFRESH_MS;
    const refreshed = await provider.login(target);

    // Assess
    expect(first).toEqual({ user: 'health', password: 'token-10.0.0.1-1' });
    expect(cached.password).toBe('token-10.0.0.1-1');
    expect(refreshed.password).toBe('token-10.0.0.1-2');
    expect(IAM_TOKEN_REFRESH_MS).toBeLessThan(15 * 60_000);
  });

  it('the real rds-signer produces a token for the endpoint (signed offline)', async () => {
    // Prepare
    const signer = new Signer({
      hostname: 'db-1.abc.eu-west-1.rds.amazonaws.com',
      port: 5432,
      username: 'health',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });

    // Act
    const token = await signer.getAuthToken();

    // Assess
    expect(token).toMatch(
      /^db-1\.abc\.eu-west-1\.rds\.amazonaws\.com:5432\/\?Action=connect&DBUser=health&/,
    );
    expect(token).toContain('X-Amz-Signature=');
  });

  it('wraps a signing failure without leaking anything', async () => {
    // Prepare
    const provider = createCredentialsProvider(
      { mode: 'iam', region: 'eu-west-1' },
      { signToken: async () => Promise.reject(new Error('no credentials')) },
    );

    // Act + Assess
    await expect(provider.login(target)).rejects.toThrow(
      /could not sign an IAM auth token for health@10.0.0.1:5432/,
    );
  });
});

describe('Secrets Manager credentials', () => {
  function fakeSecrets(values: (string | undefined)[]) {
    const calls: unknown[] = [];
    return {
      calls,
      client: {
        send: async (command: { input: unknown }) => {
          calls.push(command.input);
          const i = Math.min(calls.length - 1, values.length - 1);
          return { VersionId: `v${i + 1}`, SecretString: values[i] };
        },
      } as never,
    };
  }

  const config = {
    mode: 'secret' as const,
    secretId: 'aurora-haproxy/health',
    region: 'eu-west-1',
    pollMs: 20_000,
  };

  it('reads {username, password} once, then only through its watcher; an auth failure polls early', async () => {
    // Prepare
    let now = 0;
    const fake = fakeSecrets([
      JSON.stringify({ username: 'probe', password: 'one' }),
      JSON.stringify({ username: 'probe', password: 'two' }),
    ]);
    const provider = createCredentialsProvider(config, {
      now: () => now,
      secretsManager: fake.client,
    });

    // Act
    const first = await provider.login(target);
    const cached = await provider.login(target);
    provider.invalidate(); // within 5 s of the last read: no early poll
    const stillCached = await provider.login(target);
    now = 6_000;
    provider.invalidate();
    await (provider as unknown as { watcher: { pollNow(): Promise<void> } }).watcher.pollNow();
    const afterInvalidate = await provider.login(target);

    // Assess
    expect(first).toEqual({ user: 'probe', password: 'one' });
    expect(cached.password).toBe('one');
    expect(stillCached.password).toBe('one');
    expect(afterInvalidate.password).toBe('two');
    expect(fake.calls).toEqual([
      { SecretId: 'aurora-haproxy/health' },
      { SecretId: 'aurora-haproxy/health' },
    ]);
  });

  it.each([
    [undefined, /has no SecretString/],
    ['not json', /is not JSON/],
    [JSON.stringify({ username: 'probe' }), /has no string "password"/],
  ])('refuses a secret %j', async (value, message) => {
    // Prepare
    const provider = createCredentialsProvider(config, {
      secretsManager: fakeSecrets([value]).client,
    });

    // Act + Assess
    await expect(provider.login(target)).rejects.toThrow(message);
  });
});
