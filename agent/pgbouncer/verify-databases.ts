import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { PGBOUNCER_LISTEN_HOST } from '@aurora-haproxy/contract/host';
import { pgbouncerEntries } from '@aurora-haproxy/contract/listeners';
import type { ShownDatabase } from './admin';

/**
 * PgBouncer's RELOAD answers success even when it stops reading the [databases] include at a
 * line it rejects (measured on 1.18: an alias named `pgbouncer`, or an unknown parameter such
 * as `foo=bar`): the entries after it are not loaded, the entries removed from the file are
 * not dropped, and a restart with the same file fails (issue 10). So the agent checks the
 * include before it changes anything (checkInclude) and PgBouncer's real state after RELOAD
 * (compareDatabases). Both are pure.
 */

/** PgBouncer's own admin database; an alias of that name stops the include from loading. */
export const RESERVED_DATABASE_NAMES: ReadonlySet<string> = new Set(['pgbouncer']);

/** The per-database parameters PgBouncer 1.18+ knows ([databases] section of its docs). */
export const DATABASE_PARAMETERS: ReadonlySet<string> = new Set([
  'dbname',
  'host',
  'port',
  'user',
  'password',
  'auth_user',
  'pool_size',
  'min_pool_size',
  'reserve_pool',
  'connect_query',
  'pool_mode',
  'max_db_connections',
  'client_encoding',
  'datestyle',
  'timezone',
  'application_name',
]);

export interface ExpectedDatabase {
  alias: string;
  port: number;
  dbname: string;
}

/** alias -> what PgBouncer must serve for it, from the bundle's clusters. */
export function expectedDatabases(bundle: Bundle): ExpectedDatabase[] {
  return bundle.clusters.flatMap((c) =>
    pgbouncerEntries(c).map((e) => ({ alias: e.alias, port: e.port, dbname: e.dbname })),
  );
}

/**
 * Problems of a bundle's include text, before it is installed. Pass conditions (no problem):
 * 1. the only section header is `[databases]` (another section would change PgBouncer's own
 *    settings: a second `[pgbouncer]` header even resets every setting of that section to its
 *    default, measured on 1.24.1: admin_users emptied, the console answered "not allowed"),
 *    and every entry is below it;
 * 2. every non-blank, non-comment (`;`, `#`) line is `<name> = <key>=<value> ...` with keys
 *    from DATABASE_PARAMETERS;
 * 3. no entry is named after a reserved database, and no name appears twice;
 * 4. the entry names are exactly the bundle's aliases;
 * 5. every entry has exactly one host=, the placeholder of the host's own HAProxy listener
 *    (PGBOUNCER_LISTEN_HOST): an include can never send PgBouncer anywhere else.
 */
export function checkInclude(text: string, expected: readonly ExpectedDatabase[]): string[] {
  const problems: string[] = [];
  const names: string[] = [];
  let section: string | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    const where = `line ${index + 1}`;
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const header = /^\[([^\]]*)\]$/.exec(line);
    if (header) {
      section = header[1]?.trim();
      if (section !== 'databases') problems.push(`${where}: section [${section}] is not allowed`);
      return;
    }
    if (section !== 'databases') {
      problems.push(`${where}: entry outside the [databases] section`);
      return;
    }
    const entry = /^([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!entry) {
      problems.push(`${where}: not a "<name> = <key>=<value> ..." entry`);
      return;
    }
    const name = entry[1] as string;
    names.push(name);
    if (RESERVED_DATABASE_NAMES.has(name.toLowerCase())) {
      problems.push(`${where}: "${name}" is PgBouncer's reserved admin database`);
    }
    const hosts: string[] = [];
    for (const pair of (entry[2] ?? '').split(/\s+/).filter((p) => p !== '')) {
      const key = /^([A-Za-z_]+)=/.exec(pair)?.[1];
      if (key === undefined) problems.push(`${where}: "${pair}" is not key=value`);
      else if (!DATABASE_PARAMETERS.has(key.toLowerCase())) {
        problems.push(`${where}: unknown PgBouncer database parameter "${key}"`);
      } else if (key.toLowerCase() === 'host') hosts.push(pair.slice(key.length + 1));
    }
    if (hosts.length !== 1 || hosts[0] !== PGBOUNCER_LISTEN_HOST) {
      problems.push(
        `${where}: "${name}" must have exactly one host=${PGBOUNCER_LISTEN_HOST} (the host's HAProxy listener), not ${hosts.length === 0 ? 'none' : hosts.map((h) => `host=${h}`).join(' ')}`,
      );
    }
  });
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) problems.push(`"${name}" is defined twice`);
    seen.add(name);
  }
  const aliases = new Set(expected.map((e) => e.alias));
  const missing = [...aliases].filter((a) => !seen.has(a));
  const extra = [...seen].filter((n) => !aliases.has(n));
  if (missing.length > 0) problems.push(`aliases of the bundle missing: ${missing.join(', ')}`);
  if (extra.length > 0) problems.push(`entries not in the bundle: ${extra.join(', ')}`);
  return problems;
}

/**
 * Differences between PgBouncer's SHOW DATABASES and the bundle. Pass conditions (no
 * difference): leaving out PgBouncer's own `pgbouncer` database, the names are exactly the
 * expected aliases, and each has the expected port and dbname.
 */
export function compareDatabases(
  expected: readonly ExpectedDatabase[],
  shown: readonly ShownDatabase[],
): string[] {
  const problems: string[] = [];
  const live = new Map(
    shown.filter((d) => !RESERVED_DATABASE_NAMES.has(d.name)).map((d) => [d.name, d]),
  );
  const missing: string[] = [];
  for (const want of expected) {
    const have = live.get(want.alias);
    if (!have) {
      missing.push(want.alias);
      continue;
    }
    if (have.port !== want.port || have.database !== want.dbname) {
      problems.push(
        `${want.alias} serves port ${have.port} dbname ${have.database}, not port ${want.port} dbname ${want.dbname}`,
      );
    }
  }
  const wanted = new Set(expected.map((e) => e.alias));
  const extra = [...live.keys()].filter((name) => !wanted.has(name));
  if (missing.length > 0) problems.unshift(`missing: ${missing.join(', ')}`);
  if (extra.length > 0) problems.push(`not in the bundle: ${extra.join(', ')}`);
  return problems;
}
