import { PGBOUNCER_LISTEN_HOST } from '@aurora-haproxy/contract/host';
import { describe, expect, it } from 'vitest';
import { expandInclude } from '../../../../../agent/pgbouncer/host-include';
import {
  checkInclude,
  compareDatabases,
  type ExpectedDatabase,
  expectedDatabases,
} from '../../../../../agent/pgbouncer/verify-databases';
import { bundleOf } from '../fixtures';

const ORDERS: ExpectedDatabase = { alias: 'orders', port: 15432, dbname: 'app' };
const SALES: ExpectedDatabase = { alias: 'sales', port: 15433, dbname: 'app' };
// Every entry's host: the placeholder of the host's HAProxy listener (contracts/host.ts).
const H = `host=${PGBOUNCER_LISTEN_HOST} `;

describe('checkInclude (before anything changes)', () => {
  it("accepts the renderer's include for the bundle", () => {
    // Prepare
    const bundle = bundleOf([{ id: 'db-a', address: '10.0.0.1', port: 5432 }]);
    // Act
    const problems = checkInclude(bundle.files.pgbouncerDatabases, expectedDatabases(bundle));
    // Assess
    expect(expectedDatabases(bundle)).toEqual([ORDERS]);
    expect(problems).toEqual([]);
  });

  it('refuses the reserved admin database, another section, unknown parameters, duplicates and a name set that differs', () => {
    // Prepare
    const include = [
      '[databases]',
      `orders = ${H}port=15432 dbname=app`,
      `pgbouncer = ${H}port=15432 dbname=app`,
      `sales = ${H}port=15433 dbname=app foo=bar`,
      `orders = ${H}port=15432 dbname=app`,
      'garbage',
      '[pgbouncer]',
      'listen_port = 1',
    ].join('\n');
    // Act
    const problems = checkInclude(include, [ORDERS, SALES, { ...SALES, alias: 'billing' }]);
    // Assess
    expect(problems).toEqual([
      `line 3: "pgbouncer" is PgBouncer's reserved admin database`,
      'line 4: unknown PgBouncer database parameter "foo"',
      'line 6: not a "<name> = <key>=<value> ..." entry',
      'line 7: section [pgbouncer] is not allowed',
      'line 8: entry outside the [databases] section',
      '"orders" is defined twice',
      'aliases of the bundle missing: billing',
      'entries not in the bundle: pgbouncer',
    ]);
  });

  it("refuses an entry whose host= is not the host's own HAProxy listener placeholder", () => {
    // Prepare: no host (a unix socket: no TLS), another host, a literal address, two hosts
    const include = [
      '[databases]',
      'orders = port=15432 dbname=app',
      'sales = host=10.9.9.9 port=15433 dbname=app',
      `billing = host=127.0.0.1 port=15434 dbname=app`,
      `audit = ${H}host=evil.example port=15435 dbname=app`,
    ].join('\n');
    const expected = ['orders', 'sales', 'billing', 'audit'].map((alias, i) => ({
      alias,
      port: 15432 + i,
      dbname: 'app',
    }));
    // Act
    const problems = checkInclude(include, expected);
    // Assess
    expect(problems).toEqual([
      'line 2: "orders" must have exactly one host=${AURORA_HAPROXY_LISTEN_ADDR} (the host\'s HAProxy listener), not none',
      'line 3: "sales" must have exactly one host=${AURORA_HAPROXY_LISTEN_ADDR} (the host\'s HAProxy listener), not host=10.9.9.9',
      'line 4: "billing" must have exactly one host=${AURORA_HAPROXY_LISTEN_ADDR} (the host\'s HAProxy listener), not host=127.0.0.1',
      'line 5: "audit" must have exactly one host=${AURORA_HAPROXY_LISTEN_ADDR} (the host\'s HAProxy listener), not host=${AURORA_HAPROXY_LISTEN_ADDR} host=evil.example',
    ]);
  });

  it('refuses an include that would change TLS: a [pgbouncer] section with TLS settings, TLS words on an entry', () => {
    // Prepare: what would turn PgBouncer's server or client TLS off or loosen its check
    const include = [
      '[databases]',
      `orders = ${H}port=15432 dbname=app sslmode=disable`,
      '[pgbouncer]',
      'server_tls_sslmode = disable',
      'client_tls_sslmode = disable',
    ].join('\n');
    // Act
    const problems = checkInclude(include, [ORDERS]);
    // Assess
    expect(problems).toEqual([
      'line 2: unknown PgBouncer database parameter "sslmode"',
      'line 3: section [pgbouncer] is not allowed',
      'line 4: entry outside the [databases] section',
      'line 5: entry outside the [databases] section',
    ]);
  });

  it('accepts an empty bundle (no clusters) and comments', () => {
    // Act + Assess
    expect(checkInclude(';; generated\n[databases]\n# none\n', [])).toEqual([]);
  });
});

describe('expandInclude (the include as a host installs it)', () => {
  it("replaces every entry's host placeholder by the host's listen address and nothing else", () => {
    // Prepare
    const text = `;; x\n[databases]\na = ${H}port=1 dbname=a\nb = ${H}port=2 dbname=b\n`;
    // Act
    const installed = expandInclude(text, '127.0.0.42');
    // Assess
    expect(installed).toBe(
      ';; x\n[databases]\na = host=127.0.0.42 port=1 dbname=a\nb = host=127.0.0.42 port=2 dbname=b\n',
    );
  });
});

describe('compareDatabases (after RELOAD)', () => {
  const admin = { name: 'pgbouncer', port: 6432, database: 'pgbouncer' };

  it("passes when PgBouncer serves exactly the bundle's aliases (its admin db aside)", () => {
    // Act
    const problems = compareDatabases(
      [ORDERS, SALES],
      [
        admin,
        { name: 'orders', port: 15432, database: 'app' },
        { name: 'sales', port: 15433, database: 'app' },
      ],
    );
    // Assess
    expect(problems).toEqual([]);
  });

  it('names what a half-loaded include left: missing aliases, stale ones, wrong ports', () => {
    // Prepare: the reload stopped at a bad line: `orders` kept its old port, `sales` was never
    // loaded, and `legacy` (removed from the file) was not dropped
    const shown = [
      admin,
      { name: 'orders', port: 15000, database: 'app' },
      { name: 'legacy', port: 15999, database: 'app' },
    ];
    // Act
    const problems = compareDatabases([ORDERS, SALES], shown);
    // Assess
    expect(problems).toEqual([
      'missing: sales',
      'orders serves port 15000 dbname app, not port 15432 dbname app',
      'not in the bundle: legacy',
    ]);
  });
});
