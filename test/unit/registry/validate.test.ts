import { describe, expect, it } from 'vitest';
import { RegistryConfigError, RegistryValidationError } from '../../../functions/registry/errors';
import {
  DEFAULT_RESERVED,
  reservedPortsFromEnv,
  validateAdd,
  validateUpdate,
} from '../../../functions/registry/validate';

const valid = {
  clusterId: 'orders-prod',
  port: 15432,
  databases: [{ alias: 'orders', dbname: 'orders' }],
};

/** The issues of a rejected add, or a failure when the input was accepted. */
function addIssues(overrides: Record<string, unknown>, reserved = DEFAULT_RESERVED) {
  try {
    validateAdd({ ...valid, ...overrides }, reserved);
  } catch (error) {
    expect(error).toBeInstanceOf(RegistryValidationError);
    return (error as RegistryValidationError).issues;
  }
  throw new Error(`accepted ${JSON.stringify(overrides)}`);
}

describe('clusterId follows the RDS identifier rules', () => {
  it.each([
    ['63 characters', `a${'b'.repeat(62)}`],
    ['single letter', 'a'],
    ['hyphens between', 'a-b-c1'],
    ['uppercase (stored lowercase)', 'Orders-PROD'],
  ])('accepts %s', (_, clusterId) => {
    // Act
    const parsed = validateAdd({ ...valid, clusterId });

    // Assess
    expect(parsed.clusterId).toBe(clusterId.toLowerCase());
  });

  it.each([
    ['64 characters', `a${'b'.repeat(63)}`],
    ['a double hyphen', 'a--b'],
    ['a trailing hyphen', 'orders-'],
    ['a digit first', '1orders'],
    ['a hyphen first', '-orders'],
    ['an underscore', 'orders_prod'],
    ['a space', 'orders prod'],
    ['a newline', 'orders\nprod'],
    ['empty', ''],
    ['a number', 42],
  ])('rejects %s, naming clusterId', (_, clusterId) => {
    // Act
    const issues = addIssues({ clusterId });

    // Assess
    expect(new Set(issues.map((i) => i.field))).toEqual(new Set(['clusterId']));
  });
});

describe('port is in 1024-65535 and not reserved', () => {
  it.each([1024, 65535, 15432])('accepts %i', (port) => {
    expect(validateAdd({ ...valid, port }).port).toBe(port);
  });

  it.each([
    [1023, 'too_small'],
    [65536, 'too_big'],
    [0, 'too_small'],
    [-5432, 'too_small'],
    [15432.5, 'invalid_type'],
    ['15432', 'invalid_type'],
    [Number.NaN, 'invalid_type'],
  ])('rejects %s (%s)', (port, code) => {
    // Act
    const issues = addIssues({ port });

    // Assess
    expect(issues).toEqual([expect.objectContaining({ field: 'port', code })]);
  });

  it.each([
    [6432, 'pgbouncer'],
    [8404, 'the HAProxy stats page'],
    [9876, 'the agent check listener'],
    [9877, 'the agent readiness endpoint'],
  ])('rejects reserved port %i, saying what it is for', (port, purpose) => {
    // Act
    const issues = addIssues({ port });

    // Assess
    expect(issues).toEqual([
      { field: 'port', code: 'reserved_port', message: `${port} is reserved for ${purpose}` },
    ]);
  });

  it('rejects a reserved port in an update too', () => {
    // Act
    const act = () => validateUpdate({ clusterId: 'orders-prod', version: 3, port: 6432 });

    // Assess
    expect(act).toThrow('port: 6432 is reserved for pgbouncer');
  });
});

describe('RESERVED_PORTS setting', () => {
  it('replaces the defaults, keeping known purposes', () => {
    // Act
    const reserved = reservedPortsFromEnv(' 6432, 20000 ');

    // Assess
    expect([...reserved]).toEqual([
      [8404, 'the HAProxy stats page'],
      [6432, 'pgbouncer'],
      [20000, 'this host (RESERVED_PORTS)'],
    ]);
    expect(addIssues({ port: 20000 }, reserved)[0]?.message).toBe(
      '20000 is reserved for this host (RESERVED_PORTS)',
    );
    expect(validateAdd({ ...valid, port: 9876 }, reserved).port).toBe(9876);
  });

  it('keeps the stats port the render writes into every config reserved', () => {
    // Act
    const reserved = reservedPortsFromEnv('20000');

    // Assess
    expect(addIssues({ port: 8404 }, reserved)[0]?.message).toBe(
      '8404 is reserved for the HAProxy stats page',
    );
  });

  it('defaults when absent or empty', () => {
    expect(reservedPortsFromEnv(undefined)).toBe(DEFAULT_RESERVED);
    expect(reservedPortsFromEnv('  ')).toBe(DEFAULT_RESERVED);
  });

  it.each(['6432,abc', '6432,,8404', '70000', '0', '64 32'])('rejects %j', (value) => {
    expect(() => reservedPortsFromEnv(value)).toThrow(RegistryConfigError);
    expect(() => reservedPortsFromEnv(value)).toThrow(/^RESERVED_PORTS: /);
  });
});

describe('database aliases and names cannot carry config syntax', () => {
  it.each([
    ['a space', 'my db'],
    ['a hash', 'db#1'],
    ['a double quote', 'db"x'],
    ['a single quote', "db'x"],
    ['an equals sign', 'db=x'],
    ['a newline', 'db\nx'],
    ['a carriage return', 'db\rx'],
    ['a tab', 'db\tx'],
    ['a semicolon', 'db;x'],
    ['uppercase', 'Orders'],
    ['a digit first', '1db'],
    ['a hyphen', 'my-db'],
    ['64 characters', `a${'b'.repeat(63)}`],
    ['empty', ''],
  ])('rejects an alias with %s', (_, alias) => {
    // Act
    const issues = addIssues({ databases: [{ alias, dbname: 'orders' }] });

    // Assess
    expect(issues.map((i) => i.field)).toEqual(['databases.0.alias']);
  });

  it.each([
    ['a space', 'my db'],
    ['a hash', 'db#1'],
    ['a quote', 'db"x'],
    ['an equals sign', 'db=x'],
    ['a newline', 'db\nx'],
    ['a dollar', 'db\u0024{X}'],
  ])('rejects a dbname with %s', (_, dbname) => {
    expect(addIssues({ databases: [{ alias: 'ok', dbname }] }).map((i) => i.field)).toEqual([
      'databases.0.dbname',
    ]);
  });

  it('rejects the alias PgBouncer reserves for its admin console, with a reason', () => {
    // Act
    const issues = addIssues({
      databases: [
        { alias: 'orders', dbname: 'orders' },
        { alias: 'pgbouncer', dbname: 'orders' },
      ],
    });

    // Assess
    expect(issues).toEqual([
      {
        field: 'databases.1.alias',
        code: 'reserved_alias',
        message: 'is reserved by PgBouncer (its admin console database); reserved: pgbouncer',
      },
    ]);
  });

  it('accepts 63-character aliases and dbnames with hyphens', () => {
    // Prepare
    const alias = `a${'_'.repeat(62)}`;

    // Act
    const parsed = validateAdd({ ...valid, databases: [{ alias, dbname: 'Orders-2024' }] });

    // Assess
    expect(parsed.databases).toEqual([{ alias, dbname: 'Orders-2024' }]);
  });

  it('rejects no database, a repeated alias, and more than 20 databases', () => {
    expect(addIssues({ databases: [] })[0]?.field).toBe('databases');
    expect(
      addIssues({
        databases: [
          { alias: 'a', dbname: 'x' },
          { alias: 'a', dbname: 'y' },
        ],
      })[0]?.message,
    ).toBe('aliases must be unique within the cluster');
    const many = Array.from({ length: 21 }, (_, i) => ({ alias: `a${i}`, dbname: 'x' }));
    expect(addIssues({ databases: many })[0]?.field).toBe('databases');
  });
});

describe('options: enums and bounds', () => {
  it('fills defaults on add', () => {
    expect(validateAdd(valid).options).toEqual({
      balance: 'leastconn',
      checkMode: 'tcp-check',
      fallbackToWriter: false,
      weights: 'equal',
      excludeInstances: [],
    });
  });

  it.each([
    [{ balance: 'source' }, 'options.balance'],
    [{ checkMode: 'http' }, 'options.checkMode'],
    [{ weights: 'heavy' }, 'options.weights'],
    [{ maxReplicaLagMs: -1 }, 'options.maxReplicaLagMs'],
    [{ maxReplicaLagMs: 3_600_001 }, 'options.maxReplicaLagMs'],
    [{ maxReplicaLagMs: 1.5 }, 'options.maxReplicaLagMs'],
    [{ fallbackToWriter: 'yes' }, 'options.fallbackToWriter'],
    [{ excludeInstances: ['bad id'] }, 'options.excludeInstances.0'],
    [{ excludeInstances: ['r1', 'r1'] }, 'options.excludeInstances'],
    [{ colour: 'blue' }, 'options'],
  ])('rejects %j naming %s', (options, field) => {
    expect(addIssues({ options }).map((i) => i.field)).toEqual([field]);
  });

  it('takes only the options an update sends (others keep their stored value)', () => {
    // Act
    const parsed = validateUpdate({
      clusterId: 'orders-prod',
      version: 2,
      options: { fallbackToWriter: true },
    });

    // Assess
    expect(parsed.options).toEqual({ fallbackToWriter: true });
  });

  it('rejects a bad option in an update, naming it', () => {
    expect(() =>
      validateUpdate({ clusterId: 'orders-prod', version: 2, options: { balance: 'x' } }),
    ).toThrow(/^options\.balance: /);
  });
});

describe('whole-input errors', () => {
  it.each([null, undefined, 'add', 42, []])('rejects %j as the input', (input) => {
    expect(() => validateAdd(input)).toThrow(/^\(input\): /);
  });

  it('lists every problem, and unknown keys on one printable line', () => {
    // Act
    const issues = addIssues({ port: 1, 'evil\nkey': 1 });

    // Assess
    expect(issues.map((i) => i.field)).toEqual(['port', '(input)']);
    expect(issues[1]?.message).toBe('Unrecognized key: "evil?key"');
  });

  it('update needs a version of at least 1', () => {
    expect(() => validateUpdate({ clusterId: 'a', version: 0 })).toThrow(/^version: /);
    expect(() => validateUpdate({ clusterId: 'a' })).toThrow(/^version: /);
  });
});
