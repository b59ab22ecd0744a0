import { readFile, stat } from 'node:fs/promises';
import type { Log } from '@aurora-haproxy/contract/log';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Signer } from '@aws-sdk/rds-signer';
import { ProbeSecretCredentials } from '../secrets/probe-rotation';
import type { CredentialsConfig } from './config';
import { CredentialsError } from './errors';

/**
 * Where probe passwords come from. A password lives only in memory, is handed to the pg
 * client at connect time (never on a command line, never in the environment), and is never
 * logged: errors name the source (file path, secret id), not the value.
 */
export interface ProbeLogin {
  user: string;
  password?: string;
}

export interface ProbeTarget {
  address: string;
  port: number;
  database: string;
  user: string;
}

export interface CredentialsProvider {
  login(target: ProbeTarget): Promise<ProbeLogin>;
  /** Forget cached material, e.g. after an authentication failure. */
  invalidate(): void;
}

export interface CredentialsDeps {
  now?: () => number;
  secretsManager?: Pick<SecretsManagerClient, 'send'>;
  /** Signs an IAM auth token; injectable for tests. */
  signToken?: (target: ProbeTarget, region: string) => Promise<string>;
  /** Where the secret mode's watcher says which version is in use or why not. */
  log?: Log;
}

export function createCredentialsProvider(
  config: CredentialsConfig,
  deps: CredentialsDeps = {},
): CredentialsProvider {
  const now = deps.now ?? Date.now;
  switch (config.mode) {
    case 'none':
      return { login: async (t) => ({ user: t.user }), invalidate() {} };
    case 'pgpass':
      return pgpassProvider(config.path);
    case 'iam':
      return iamProvider(config.region, now, deps.signToken ?? signIamToken);
    case 'secret':
      return new ProbeSecretCredentials({
        secretId: config.secretId,
        region: config.region,
        pollMs: config.pollMs,
        secretsManager: deps.secretsManager,
        log: deps.log,
        now,
      });
  }
}

/** IAM auth tokens are valid 15 minutes; sign a new one after 10 so a connect never races expiry. */
export const IAM_TOKEN_REFRESH_MS = 10 * 60_000;

function iamProvider(
  region: string,
  now: () => number,
  sign: (target: ProbeTarget, region: string) => Promise<string>,
): CredentialsProvider {
  const cache = new Map<string, { token: string; signedAt: number }>();
  return {
    async login(target) {
      const key = `${target.address}:${target.port}:${target.user}`;
      const cached = cache.get(key);
      if (cached && now() - cached.signedAt < IAM_TOKEN_REFRESH_MS) {
        return { user: target.user, password: cached.token };
      }
      let token: string;
      try {
        token = await sign(target, region);
      } catch (cause) {
        throw new CredentialsError(
          `could not sign an IAM auth token for ${target.user}@${target.address}:${target.port}`,
          { cause },
        );
      }
      cache.set(key, { token, signedAt: now() });
      return { user: target.user, password: token };
    },
    invalidate: () => cache.clear(),
  };
}

async function signIamToken(target: ProbeTarget, region: string): Promise<string> {
  const signer = new Signer({
    hostname: target.address,
    port: target.port,
    username: target.user,
    region,
  });
  return signer.getAuthToken();
}

function pgpassProvider(path: string): CredentialsProvider {
  let cached: { mtimeMs: number; entries: PgpassEntry[] } | undefined;
  return {
    async login(target) {
      const s = await stat(path).catch((cause) => {
        throw new CredentialsError(`pgpass file ${path} cannot be read`, { cause });
      });
      if (!s.isFile()) throw new CredentialsError(`pgpass file ${path} is not a regular file`);
      if ((s.mode & 0o077) !== 0) {
        throw new CredentialsError(
          `pgpass file ${path} is accessible by group or others (mode ${(s.mode & 0o777).toString(8)}); chmod 600 it`,
        );
      }
      if (!cached || cached.mtimeMs !== s.mtimeMs) {
        cached = { mtimeMs: s.mtimeMs, entries: parsePgpass(await readFile(path, 'utf8')) };
      }
      const entry = cached.entries.find((e) => pgpassMatches(e, target));
      return entry ? { user: target.user, password: entry.password } : { user: target.user };
    },
    invalidate() {
      cached = undefined;
    },
  };
}

export interface PgpassEntry {
  host: string;
  port: string;
  database: string;
  user: string;
  password: string;
}

/** libpq's format: host:port:database:username:password, `*` matches anything, `\:` and `\\` escape. */
export function parsePgpass(text: string): PgpassEntry[] {
  const entries: PgpassEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields: string[] = [];
    let field = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === '\\' && i + 1 < line.length) {
        field += line[++i];
      } else if (c === ':' && fields.length < 4) {
        fields.push(field);
        field = '';
      } else if (c !== '\r') {
        field += c;
      }
    }
    fields.push(field);
    if (fields.length !== 5) continue;
    const [host, port, database, user, password] = fields as [
      string,
      string,
      string,
      string,
      string,
    ];
    entries.push({ host, port, database, user, password });
  }
  return entries;
}

function pgpassMatches(entry: PgpassEntry, target: ProbeTarget): boolean {
  const match = (pattern: string, value: string) => pattern === '*' || pattern === value;
  return (
    match(entry.host, target.address) &&
    match(entry.port, String(target.port)) &&
    match(entry.database, target.database) &&
    match(entry.user, target.user)
  );
}
