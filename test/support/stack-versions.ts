import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { HAPROXY_BINARY } from '../../packages/local-stack/haproxy';
import { findPgBinDir } from '../../packages/local-stack/pg-bindir';
import { PGBOUNCER_BINARY } from '../../packages/local-stack/pgbouncer';

/**
 * The versions of the machine's HAProxy, PgBouncer and PostgreSQL, read from the binaries
 * the tests run (Debian 12: 2.6 / 1.18 / 15; Debian 13: 3.0 / 1.24 / 17).
 *
 * A test that needs a feature one stack lacks is selected by these, never skipped: each
 * behaviour gets its own test whose name says the versions it holds for, and exactly one
 * of them is defined on a given machine, e.g.
 *
 *   if (atLeast(stackVersions().haproxy, 3, 0)) it('reload answers Success=1 (HAProxy >= 3.0)', …);
 *   else it('reload closes the connection with no answer (HAProxy < 3.0)', …);
 *
 * A binary that is missing or prints no version fails the test file (it is never read as
 * "old" or "new").
 */

export interface Version {
  major: number;
  minor: number;
  text: string;
}

export interface StackVersions {
  haproxy: Version;
  pgbouncer: Version;
  postgres: Version;
}

/**
 * Pure: the first "<major>.<minor>" after the product's name in its version banner, e.g.
 * "HAProxy version 3.0.11-1+deb13u4 2026/10/15", "PgBouncer 1.24.1", "postgres (PostgreSQL)
 * 17.12 (Debian 17.12-1)". Throws when there is none.
 */
export function parseVersion(product: string, banner: string): Version {
  const match = new RegExp(`${product}\\)?(?: version)? (\\d+)\\.(\\d+)\\S*`, 'i').exec(banner);
  if (!match) throw new Error(`no ${product} version in ${JSON.stringify(banner.slice(0, 200))}`);
  return { major: Number(match[1]), minor: Number(match[2]), text: match[0] };
}

/** Pure: whether a version is at least major.minor. */
export function atLeast(version: Version, major: number, minor = 0): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

let cached: StackVersions | undefined;

/** The machine's versions (read once per test file). */
export function stackVersions(): StackVersions {
  cached ??= {
    haproxy: parseVersion('HAProxy', banner(HAPROXY_BINARY, ['-v'])),
    pgbouncer: parseVersion('PgBouncer', banner(PGBOUNCER_BINARY, ['--version'])),
    postgres: parseVersion('PostgreSQL', banner(join(findPgBinDir(), 'postgres'), ['--version'])),
  };
  return cached;
}

function banner(binary: string, args: string[]): string {
  return execFileSync(binary, args, { encoding: 'utf8', timeout: 10_000 });
}
