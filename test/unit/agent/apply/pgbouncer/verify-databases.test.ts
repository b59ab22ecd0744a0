import { describe, expect, it } from 'vitest';
import {
  checkInclude,
  compareDatabases,
  type ExpectedDatabase,
  expectedDatabases,
} from '../../../../../agent/pgbouncer/verify-databases';
import { bundleOf } from '../fixtures';

const ORDERS: ExpectedDatabase = { alias: 'orders', port: 15432, dbname: 'app' };
const SALES: ExpectedDatabase = { alias: 'sales', port: 15433, dbname: 'app' };

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
      'orders = port=15432 dbname=app',
      'pgbouncer = port=15432 dbname=app',
      'sales = port=15433 dbname=app foo=bar',
      'orders = port=15432 dbname=app',
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
      'line 8: [pgbouncer] may only set max_prepared_statements',
      '"orders" is defined twice',
      'aliases of the bundle missing: billing',
      'entries not in the bundle: pgbouncer',
    ]);
  });

  it('accepts a [pgbouncer] section after [databases] setting only max_prepared_statements, once, to a number', () => {
    // Prepare
    const good =
      '[databases]\norders = port=15432 dbname=app pool_mode=transaction\n\n[pgbouncer]\nmax_prepared_statements = 200\n';
    const bad = [
      '[pgbouncer]',
      'max_prepared_statements = 1',
      '[databases]',
      'orders = port=15432 dbname=app',
      '[pgbouncer]',
      'max_prepared_statements = 2x',
      'max_prepared_statements = 3',
      'max_prepared_statements = 4',
      'auth_type = trust',
      '[users]',
      'x = pool_mode=session',
    ].join('\n');
    // Act
    const accepted = checkInclude(good, [ORDERS]);
    const refused = checkInclude(bad, [ORDERS]);
    // Assess
    expect(accepted).toEqual([]);
    expect(refused).toEqual([
      'line 1: section [pgbouncer] is not allowed here',
      'line 2: entry outside the [databases] section',
      'line 3: section [databases] is not allowed here',
      'line 4: entry outside the [databases] section',
      'line 5: section [pgbouncer] is not allowed here',
      'line 6: entry outside the [databases] section',
      'line 7: entry outside the [databases] section',
      'line 8: entry outside the [databases] section',
      'line 9: entry outside the [databases] section',
      'line 10: section [users] is not allowed here',
      'line 11: entry outside the [databases] section',
      'aliases of the bundle missing: orders',
    ]);
  });

  it('refuses a bad or repeated max_prepared_statements and any other [pgbouncer] key', () => {
    // Prepare
    const include = [
      '[databases]',
      'orders = port=15432 dbname=app',
      '[pgbouncer]',
      'max_prepared_statements = 2x',
      'max_prepared_statements = 3',
      'max_prepared_statements = 4',
      'auth_type = trust',
    ].join('\n');
    // Act
    const problems = checkInclude(include, [ORDERS]);
    // Assess
    expect(problems).toEqual([
      'line 4: max_prepared_statements = "2x" is not a valid value',
      'line 5: max_prepared_statements is set twice',
      'line 6: max_prepared_statements is set twice',
      'line 7: [pgbouncer] may only set max_prepared_statements',
    ]);
  });

  it('accepts an empty bundle (no clusters) and comments', () => {
    // Act + Assess
    expect(checkInclude(';; generated\n[databases]\n# none\n', [])).toEqual([]);
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
