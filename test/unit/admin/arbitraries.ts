import { DEFAULT_HOST_PORTS } from '@aurora-haproxy/contract/host';
import fc from 'fast-check';

/**
 * fast-check arbitraries for admin requests: valid ones (built from the rules, not from the
 * schemas under test), ones with exactly one bad field (and the field the error must name),
 * and chaos (anything at all). Shared by the unit fuzz and the render + haproxy -c fuzz.
 */
export const RESERVED: readonly number[] = Object.values(DEFAULT_HOST_PORTS);

/** Characters that could end a config line or start a new one, plus non-ASCII look-alikes. */
export const DANGEROUS = [
  ' ',
  '\t',
  '\n',
  '\r',
  '\v',
  '\f',
  '\0',
  '#',
  '"',
  "'",
  '`',
  '=',
  ';',
  '$',
  '\\',
  '{',
  '}',
  '%',
  '/',
  ':',
  ',',
  '.',
  '@',
  '!',
  '\u00a0',
  '\u2028',
  '\u2029',
  '\u0085',
  '\u00e9',
  '\u017f', // long s: uppercases to an ASCII S
  '\u212a', // Kelvin sign: lowercases to an ASCII k
];

const alnum = fc.stringMatching(/^[a-zA-Z0-9]{1,10}$/);

/** RDS identifier: letter first; letters, digits, single hyphens between; 1-63. */
export const validClusterId = fc
  .tuple(fc.stringMatching(/^[a-zA-Z]$/), alnum, fc.array(alnum, { maxLength: 8 }))
  .map(([first, head, segments]) =>
    [`${first}${head}`, ...segments].join('-').slice(0, 63).replace(/-+$/, ''),
  );

export const validInstanceId = validClusterId.map((id) => id.toLowerCase());

export const validPort = fc
  .integer({ min: 1024, max: 65535 })
  .filter((port) => !RESERVED.includes(port));

/** Names PgBouncer refuses as a [databases] key (its admin console): never a valid alias. */
export const PGBOUNCER_RESERVED = ['pgbouncer'] as const;

export const validAlias = fc
  .stringMatching(/^[a-z_][a-z0-9_]{0,62}$/)
  .filter((a) => !(PGBOUNCER_RESERVED as readonly string[]).includes(a));

/**
 * Names that match the alias characters but mean something to the programs that load them
 * (PgBouncer's admin database, its fallback `*`, its 63-byte limit and one past it, names
 * PostgreSQL itself ships, SQL keywords, case variants). The fuzz sends them as aliases: the
 * admin API must refuse each one the real PgBouncer would refuse, and accept the rest.
 */
export const programSpecialAlias = fc.constantFrom(
  ...PGBOUNCER_RESERVED,
  '*',
  'PGBOUNCER',
  'pgbouncer_',
  '_pgbouncer',
  'postgres',
  'template0',
  'template1',
  'select',
  'user',
  'all',
  'a'.repeat(63),
  'a'.repeat(64),
  `_${'9'.repeat(62)}`,
  '_',
);
export const validDbname = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/);

export const validDatabases = fc.uniqueArray(
  fc.record({ alias: validAlias, dbname: validDbname }),
  {
    minLength: 1,
    maxLength: 6,
    selector: (d) => d.alias,
  },
);

/** A writer endpoint (its own alias and port; clashes with the cluster's are filtered out). */
export const validWriter = fc.record(
  {
    alias: validAlias,
    dbname: validDbname,
    port: validPort,
    poolMode: fc.constantFrom('transaction', 'session'),
  },
  { requiredKeys: ['alias', 'dbname', 'port'] },
);

/**
 * Pooling options as the rules allow them together (packages/contract/src/pooling.ts):
 * prepared statements (> 0) only with poolMode transaction, a pool no larger than its cap.
 */
function coherentPooling<T extends Record<string, unknown>>(options: T): T {
  const o: Record<string, unknown> = { ...options };
  if (typeof o.maxPreparedStatements === 'number' && o.maxPreparedStatements > 0) {
    o.poolMode = 'transaction';
  }
  const cap = o.maxDbConnections;
  if (typeof cap === 'number' && cap > 0 && typeof o.poolSize === 'number' && o.poolSize > cap) {
    [o.poolSize, o.maxDbConnections] = [cap, o.poolSize];
  }
  return o as T;
}

export const validOptions = fc
  .record(
    {
      balance: fc.constantFrom('leastconn', 'roundrobin', 'random'),
      checkMode: fc.constantFrom('external', 'agent'),
      maxReplicaLagMs: fc.integer({ min: 0, max: 3_600_000 }),
      fallbackToWriter: fc.boolean(),
      weights: fc.constantFrom('equal', 'instance-class'),
      azAffinity: fc.boolean(),
      excludeInstances: fc.uniqueArray(validInstanceId, { maxLength: 3 }),
      poolMode: fc.constantFrom('session', 'transaction'),
      poolSize: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(1, 5000)),
      maxDbConnections: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(0, 1, 5000)),
      maxPreparedStatements: fc.oneof(
        fc.integer({ min: 0, max: 10_000 }),
        fc.constantFrom(0, 1, 10_000),
      ),
      slowStartMs: fc.oneof(fc.integer({ min: 0, max: 600_000 }), fc.constantFrom(0, 1, 600_000)),
      writer: validWriter,
    },
    { requiredKeys: [] },
  )
  .map(coherentPooling);

/** The writer endpoint's alias and port are not the cluster's own (those are refused). */
function writerApart(request: {
  port?: number;
  databases?: { alias: string }[];
  options?: { writer?: { alias: string; port: number } };
}): boolean {
  const writer = request.options?.writer;
  if (!writer) return true;
  return (
    writer.port !== request.port && !(request.databases ?? []).some((d) => d.alias === writer.alias)
  );
}

/**
 * An add whose aliases are sometimes program-special names (see programSpecialAlias): what a
 * careless or hostile operator sends. Some are invalid; the real programs decide which.
 */
export const plausibleAdd = fc
  .tuple(
    fc.record(
      {
        action: fc.constant('add' as const),
        clusterId: validClusterId,
        port: validPort,
        databases: validDatabases,
        options: validOptions,
      },
      { requiredKeys: ['action', 'clusterId', 'port', 'databases'] },
    ),
    programSpecialAlias,
    fc.nat(),
  )
  .map(([request, alias, at]) => {
    const databases = [...request.databases];
    const i = at % databases.length;
    databases[i] = { alias, dbname: databases[i]?.dbname ?? 'app' };
    return { ...request, databases };
  })
  .filter(writerApart);

export const validAdd = fc
  .record(
    {
      action: fc.constant('add' as const),
      clusterId: validClusterId,
      port: validPort,
      databases: validDatabases,
      options: validOptions,
      force: fc.boolean(),
    },
    { requiredKeys: ['action', 'clusterId', 'port', 'databases'] },
  )
  .filter(writerApart);

export const validOther = fc.oneof(
  fc.record(
    {
      action: fc.constant('update' as const),
      clusterId: validClusterId,
      version: fc.integer({ min: 1, max: 1_000_000 }),
      port: validPort,
      databases: validDatabases,
      options: validOptions,
    },
    { requiredKeys: ['action', 'clusterId', 'version'] },
  ),
  fc.record(
    {
      action: fc.constant('remove' as const),
      clusterId: validClusterId,
      version: fc.integer({ min: 1, max: 1_000_000 }),
    },
    { requiredKeys: ['action', 'clusterId'] },
  ),
  fc.record({ action: fc.constant('get' as const), clusterId: validClusterId }),
  fc.constantFrom({ action: 'list' }, { action: 'status' }, { action: 'reconcile-now' }),
);

/** A valid string with one dangerous character inserted somewhere. */
export function injected(valid: fc.Arbitrary<string>) {
  return fc.tuple(valid, fc.constantFrom(...DANGEROUS), fc.nat()).map(([text, char, at]) => {
    const i = at % (text.length + 1);
    return text.slice(0, i) + char + text.slice(i);
  });
}

const notAString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.object({ maxDepth: 1 }),
);

const badClusterId = fc.oneof(
  injected(validClusterId),
  fc.constantFrom('', '1abc', '-abc', 'abc-', 'a--b', `a${'b'.repeat(63)}`, 'a_b', 'A B'),
  validClusterId.map((id) => `${id}-`),
  validClusterId.map((id) => `9${id}`),
  validClusterId.map((id) => `${id}--x`),
  validClusterId.map((id) => id.padEnd(64, 'x')),
  notAString,
);

const badPort = fc.oneof(
  fc.integer({ min: -100_000, max: 1023 }),
  fc.integer({ min: 65536, max: 10_000_000 }),
  fc.constantFrom(...RESERVED, 1023, 65536, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, 15432.5),
  fc.double({ min: 1024, max: 65535, noInteger: true }),
  validPort.map(String),
  fc.constant(null),
  fc.boolean(),
);

const badAlias = fc.oneof(
  fc.constantFrom(...PGBOUNCER_RESERVED, '*', 'PGBOUNCER', 'a'.repeat(64)),
  injected(validAlias),
  validAlias.map((a) => `${a}A`),
  validAlias.map((a) => `1${a}`),
  validAlias.map((a) => `${a}-x`),
  validAlias.map((a) => a.padEnd(64, 'x')),
  fc.constant(''),
  notAString,
);

const badDbname = fc.oneof(
  injected(validDbname),
  validDbname.map((d) => `-${d}`),
  validDbname.map((d) => `1${d}`),
  validDbname.map((d) => d.padEnd(64, 'x')),
  fc.constant(''),
  notAString,
);

const badOption = fc.oneof(
  fc.record({
    key: fc.constant('balance'),
    value: fc.oneof(
      fc.string().filter((s) => !['leastconn', 'roundrobin', 'random'].includes(s)),
      injected(fc.constantFrom('leastconn', 'random')),
    ),
  }),
  fc.record({
    key: fc.constant('checkMode'),
    value: fc.oneof(fc.constantFrom('http', 'AGENT', 'agent '), notAString),
  }),
  fc.record({
    key: fc.constant('maxReplicaLagMs'),
    value: fc.oneof(
      fc.integer({ max: -1 }),
      fc.integer({ min: 3_600_001 }),
      fc.constantFrom(1.5, '100', Number.NaN),
    ),
  }),
  fc.record({
    key: fc.constant('fallbackToWriter'),
    value: fc.oneof(fc.constantFrom('true', 1, 0, null)),
  }),
  fc.record({
    key: fc.constant('azAffinity'),
    value: fc.oneof(fc.constantFrom('true', 'eu-west-1a', 1, null)),
  }),
  fc.record({
    key: fc.constant('weights'),
    value: fc.oneof(fc.constantFrom('heavy', 'Equal'), injected(fc.constant('equal'))),
  }),
  fc.record({
    key: fc.constant('poolMode'),
    value: fc.oneof(
      fc.constantFrom('statement', 'Transaction', 'session ', ''),
      injected(fc.constantFrom('session', 'transaction')),
      notAString,
    ),
  }),
  ...(['poolSize', 'maxDbConnections', 'maxPreparedStatements', 'slowStartMs'] as const).map(
    (key) => {
      const max = {
        poolSize: 5000,
        maxDbConnections: 5000,
        maxPreparedStatements: 10_000,
        slowStartMs: 600_000,
      }[key];
      const min = key === 'poolSize' ? 1 : 0;
      return fc.record({
        key: fc.constant(key),
        value: fc.oneof(
          fc.integer({ max: min - 1 }),
          fc.integer({ min: max + 1 }),
          fc.constantFrom(min - 1, max + 1, 1.5, '10', '10s', Number.NaN, null, true),
        ),
      });
    },
  ),
  fc.record({
    key: fc.constant('excludeInstances'),
    value: fc.oneof(
      badClusterId.map((id) => [id]),
      fc.constant('i-1'),
    ),
  }),
  fc.record({
    key: fc.constant('writer'),
    value: fc.oneof(
      badAlias.map((alias) => ({ alias, dbname: 'app', port: 16_001 })),
      badDbname.map((dbname) => ({ alias: 'app_rw', dbname, port: 16_001 })),
      badPort.map((port) => ({ alias: 'app_rw', dbname: 'app', port })),
      fc.constantFrom(
        { alias: 'app_rw', dbname: 'app', port: 16_001, poolMode: 'statement' },
        { alias: 'app_rw', dbname: 'app' },
        { alias: 'app_rw', port: 16_001 },
        { alias: 'app_rw', dbname: 'app', port: 16_001, extra: 1 },
        'app_rw',
        true,
      ),
    ),
  }),
);

export interface BadRequest {
  request: Record<string, unknown>;
  /** The error must name this field (an issue's field starts with it). */
  field: string;
}

/** A valid add or update with exactly one field made invalid. */
export const oneBadField: fc.Arbitrary<BadRequest> = fc.oneof(
  fc
    .tuple(validAdd, badClusterId)
    .map(([r, v]) => ({ request: { ...r, clusterId: v }, field: 'clusterId' })),
  fc.tuple(validAdd, badPort).map(([r, v]) => ({ request: { ...r, port: v }, field: 'port' })),
  fc.tuple(validAdd, badAlias).map(([r, v]) => ({
    request: { ...r, databases: [{ ...r.databases[0], alias: v }, ...r.databases.slice(1)] },
    field: 'databases',
  })),
  fc.tuple(validAdd, badDbname).map(([r, v]) => ({
    request: { ...r, databases: [...r.databases.slice(1), { alias: 'z_last', dbname: v }] },
    field: 'databases',
  })),
  fc.tuple(validAdd, badOption).map(([r, o]) => ({
    request: { ...r, options: { ...r.options, [o.key]: o.value } },
    field: `options.${o.key}`,
  })),
  // Each option valid alone, refused together (naming the field the rule is about).
  fc
    .tuple(validAdd, fc.integer({ min: 1, max: 10_000 }), fc.constantFrom('session', undefined))
    .map(([r, prepared, poolMode]) => ({
      request: { ...r, options: { ...r.options, poolMode, maxPreparedStatements: prepared } },
      field: 'options.maxPreparedStatements',
    })),
  fc
    .tuple(validAdd, fc.integer({ min: 1, max: 4999 }), fc.integer({ min: 1, max: 4999 }))
    .map(([r, cap, over]) => ({
      request: {
        ...r,
        options: { ...r.options, maxDbConnections: cap, poolSize: Math.min(5000, cap + over) },
      },
      field: 'options.poolSize',
    })),
  fc.tuple(validAdd, validDbname).map(([r, dbname]) => ({
    request: {
      ...r,
      options: {
        ...r.options,
        writer: {
          alias: r.databases[0]?.alias,
          dbname,
          port: r.port === 65535 ? 1024 : r.port + 1,
        },
      },
    },
    field: 'options.writer.alias',
  })),
  fc.tuple(validAdd, validAlias).map(([r, alias]) => ({
    request: {
      ...r,
      databases: r.databases
        .filter((d) => d.alias !== alias)
        .concat(
          r.databases.length === 1 && r.databases[0]?.alias === alias
            ? [{ alias: `${alias.slice(0, 60)}_r`, dbname: 'app' }]
            : [],
        ),
      options: { ...r.options, writer: { alias, dbname: 'app', port: r.port } },
    },
    field: 'options.writer.port',
  })),
  fc
    .tuple(validAdd, fc.oneof(fc.constantFrom('http', 'true', 1), fc.constant(null)))
    .map(([r, v]) => ({
      request: { ...r, force: v },
      field: 'force',
    })),
  fc.tuple(validAdd, fc.stringMatching(/^[a-zA-Z_]{1,12}$/)).map(([r, key]) => ({
    request: { ...r, [`x${key}`]: 1 },
    field: '(input)',
  })),
  fc
    .tuple(
      validAdd,
      fc.constantFrom(
        [],
        Array.from({ length: 21 }, (_, i) => ({ alias: `a${i}`, dbname: 'x' })),
      ),
    )
    .map(([r, databases]) => ({ request: { ...r, databases }, field: 'databases' })),
  fc.tuple(validAdd).map(([r]) => ({
    request: {
      ...r,
      databases: [...r.databases, { ...(r.databases[0] ?? { alias: 'a', dbname: 'a' }) }],
    },
    field: 'databases',
  })),
  fc
    .tuple(validOther, badPort)
    .filter(([r]) => r.action === 'update')
    .map(([r, v]) => ({ request: { ...r, port: v }, field: 'port' })),
  fc
    .tuple(validClusterId, fc.oneof(fc.integer({ max: 0 }), fc.constantFrom(1.5, '2', null)))
    .map(([clusterId, version]) => ({
      request: { action: 'update', clusterId, version },
      field: 'version',
    })),
  fc
    .tuple(fc.constantFrom('remove', 'get'), badClusterId)
    .map(([action, clusterId]) => ({ request: { action, clusterId }, field: 'clusterId' })),
  fc
    .tuple(fc.string(), fc.anything())
    .filter(
      ([action]) =>
        !['add', 'update', 'remove', 'get', 'list', 'status', 'reconcile-now'].includes(action),
    )
    .map(([action, x]) => ({ request: { action, x }, field: 'action' })),
);

/** Anything at all, and records with a real action and random fields. */
export const chaos: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.record(
    {
      action: fc.constantFrom('add', 'update', 'remove', 'get', 'list', 'status', 'reconcile-now'),
      clusterId: fc.oneof(fc.string(), validClusterId, injected(validClusterId)),
      port: fc.oneof(fc.integer(), fc.double(), fc.string()),
      version: fc.oneof(fc.integer(), fc.string()),
      databases: fc.array(
        fc.record({
          alias: fc.oneof(fc.string(), validAlias),
          dbname: fc.oneof(fc.string(), validDbname),
        }),
        { maxLength: 3 },
      ),
      options: fc.dictionary(
        fc.constantFrom(
          'balance',
          'checkMode',
          'maxReplicaLagMs',
          'fallbackToWriter',
          'weights',
          'azAffinity',
          'excludeInstances',
          'poolMode',
          'poolSize',
          'maxDbConnections',
          'maxPreparedStatements',
          'slowStartMs',
          'writer',
          'x',
        ),
        fc.anything({ maxDepth: 1 }),
      ),
      force: fc.anything({ maxDepth: 0 }),
    },
    { requiredKeys: ['action'] },
  ),
);
