import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';

/**
 * Where the local PostgreSQL's binaries are (postgres, initdb, pg_basebackup, psql, pgbench):
 * Debian installs each major version under /usr/lib/postgresql/<major>/bin (15 on Debian 12,
 * 17 on Debian 13), so no version is written into the code. The setting
 * AURORA_HAPROXY_PG_BINDIR chooses one; without it, the newest installed major is used.
 */

export const PG_BINDIR_SETTING = 'AURORA_HAPROXY_PG_BINDIR';
export const PG_INSTALL_ROOT = '/usr/lib/postgresql';

export class PgBinDirError extends Error {
  override name = 'PgBinDirError';
}

export type PgBinDirChoice = { dir: string } | { problem: string };

/**
 * Pure: which bin dir to use. Pass conditions: a non-empty setting wins and must be an
 * absolute path without `..` segments; otherwise the installed majors (directory names under
 * the install root whose bin holds `postgres`) are compared as version numbers ("9.6" < "15"
 * < "17"), the highest wins; names that are not versions are ignored; none installed is a
 * problem naming what to install.
 */
export function choosePgBinDir(
  setting: string | undefined,
  installedMajors: readonly string[],
  installRoot = PG_INSTALL_ROOT,
): PgBinDirChoice {
  if (setting !== undefined && setting !== '') {
    if (!isAbsolute(setting) || setting.split('/').includes('..') || /[\0\n]/.test(setting)) {
      return {
        problem: `${PG_BINDIR_SETTING}=${JSON.stringify(setting)} must be an absolute path without ".."`,
      };
    }
    return { dir: normalize(setting).replace(/(.)\/$/, '$1') };
  }
  const versions = installedMajors
    .filter((name) => /^\d+(?:\.\d+)?$/.test(name))
    .sort((a, b) => compareVersions(b, a));
  const newest = versions[0];
  if (newest === undefined) {
    return {
      problem: `no PostgreSQL under ${installRoot}/*/bin and ${PG_BINDIR_SETTING} is not set: install Debian's postgresql package (bash .ci/setup)`,
    };
  }
  return { dir: join(installRoot, newest, 'bin') };
}

function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** The majors installed under the install root: those whose bin holds `postgres`. */
export function installedPgMajors(installRoot = PG_INSTALL_ROOT): string[] {
  let names: string[];
  try {
    names = readdirSync(installRoot);
  } catch {
    return [];
  }
  return names.filter((name) => isExecutable(join(installRoot, name, 'bin', 'postgres')));
}

/**
 * The bin dir to use (setting, else the newest installed), checked to hold an executable
 * `postgres`; a PgBinDirError names the problem otherwise.
 */
export function findPgBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const choice = choosePgBinDir(env[PG_BINDIR_SETTING], installedPgMajors());
  if ('problem' in choice) throw new PgBinDirError(choice.problem);
  if (!isExecutable(join(choice.dir, 'postgres'))) {
    throw new PgBinDirError(
      `${PG_BINDIR_SETTING}=${choice.dir} holds no executable postgres (expected e.g. ${PG_INSTALL_ROOT}/17/bin)`,
    );
  }
  return choice.dir;
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
