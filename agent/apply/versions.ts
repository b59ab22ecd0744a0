import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { versionAtLeast } from '@aurora-haproxy/contract/version';
import type { HaproxyMasterCli } from '../haproxy/master-cli';
import type { PgbouncerAdmin } from '../pgbouncer/admin';

/**
 * The host's HAProxy and PgBouncer versions (reported in the result line and status) and the
 * check of a bundle's `requires` against them. The running process is asked first (show proc's
 * version column, SHOW VERSION); when it is not running (boot sync), the installed binary
 * (`haproxy -v`, `pgbouncer -V`), which is what will start.
 */
export interface HostVersions {
  haproxy?: string;
  pgbouncer?: string;
}

const execFileAsync = promisify(execFile);

export async function hostVersions(deps: {
  master: HaproxyMasterCli;
  pgbouncer: PgbouncerAdmin;
  haproxyBinary: string;
  pgbouncerBinary: string;
}): Promise<HostVersions> {
  const [haproxy, pgbouncer] = await Promise.all([
    deps.master
      .showProcOnce()
      .then((p) => p.master.version ?? Promise.reject(new Error('no version column')))
      .catch(() => binaryVersion(deps.haproxyBinary, ['-v'])),
    deps.pgbouncer.version().catch(() => binaryVersion(deps.pgbouncerBinary, ['-V'])),
  ]);
  return {
    ...(haproxy ? { haproxy } : {}),
    ...(pgbouncer ? { pgbouncer } : {}),
  };
}

async function binaryVersion(binary: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await execFileAsync(binary, args, { timeout: 5_000 });
    return /\b(\d+\.\d+(?:\.\d+)?[^\s]*)/.exec(`${stdout}\n${stderr}`)?.[1];
  } catch {
    return undefined;
  }
}

export { versionAtLeast, versionNumbers } from '@aurora-haproxy/contract/version';

/**
 * Why this host cannot take the bundle, or undefined. Pass conditions: for each component the
 * bundle requires, the host's version is known and at least the required one. An unknown
 * version fails (the agent cannot show the requirement is met).
 */
export function unmetRequirements(bundle: Bundle, host: HostVersions): string | undefined {
  const problems: string[] = [];
  for (const part of ['haproxy', 'pgbouncer'] as const) {
    const needed = bundle.requires?.[part];
    if (needed === undefined) continue;
    const have = host[part];
    if (have === undefined) problems.push(`${part} >= ${needed} (this host's version is unknown)`);
    else if (!versionAtLeast(have, needed))
      problems.push(`${part} >= ${needed} (host has ${have})`);
  }
  return problems.length > 0
    ? `the bundle requires ${problems.join(' and ')}; nothing changed`
    : undefined;
}

/** PgBouncer's max_prepared_statements when pgbouncer.ini does not set it: 200 from 1.24. */
export function defaultMaxPreparedStatements(pgbouncerVersion: string | undefined): number {
  return pgbouncerVersion !== undefined && versionAtLeast(pgbouncerVersion, '1.24') ? 200 : 0;
}

/**
 * Why this host's PgBouncer cannot keep the prepared statements the bundle's clusters ask for
 * (maxPreparedStatements), or undefined. PgBouncer's max_prepared_statements is one setting
 * for the whole host, in pgbouncer.ini (the bundle's include cannot set it: see
 * verify-databases.ts), so the agent checks it instead of writing it. Pass conditions: no
 * cluster asks for any; or the host's value (SHOW CONFIG; when PgBouncer does not answer, as
 * in a boot sync, the default of its version) is at least the largest asked.
 */
export async function unmetPreparedStatements(
  bundle: Bundle,
  host: HostVersions,
  readSetting: () => Promise<string | undefined>,
): Promise<string | undefined> {
  const asked = bundle.clusters.filter((c) => (c.options.maxPreparedStatements ?? 0) > 0);
  if (asked.length === 0) return undefined;
  const needed = Math.max(...asked.map((c) => c.options.maxPreparedStatements ?? 0));
  const text = await readSetting().catch(() => undefined);
  const have = text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
  const effective = have ?? defaultMaxPreparedStatements(host.pgbouncer);
  if (effective >= needed) return undefined;
  const who = asked
    .filter((c) => (c.options.maxPreparedStatements ?? 0) > effective)
    .map((c) => c.clusterId)
    .join(', ');
  return `cluster ${who} needs max_prepared_statements >= ${needed}; this host's PgBouncer has ${effective}${have === undefined ? ' (its default; it did not answer SHOW CONFIG)' : ''}: raise it in pgbouncer.ini; nothing changed`;
}
