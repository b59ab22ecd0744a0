import { pgbouncerNeeded, poolingIssues } from '@aurora-haproxy/contract/pooling';
import { ClusterOptionsSchema } from '@aurora-haproxy/contract/registry';
import { describe, expect, it } from 'vitest';
import { RegistryValidationError } from '../../../functions/registry/errors';
import { validateAdd, validateUpdate } from '../../../functions/registry/validate';

const add = (options: Record<string, unknown>) => ({
  clusterId: 'orders',
  port: 6000,
  databases: [{ alias: 'orders', dbname: 'app' }],
  options,
});

function issuesOf(fn: () => unknown): { field: string; message: string }[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof RegistryValidationError)
      return error.issues.map(({ field, message }) => ({ field, message }));
    throw error;
  }
  return [];
}

describe('pooling options in the registry contract', () => {
  it('are absent unless sent: stored options of an old registry entry do not change', () => {
    // Act
    const options = ClusterOptionsSchema.parse({});
    // Assess
    expect(Object.keys(options).sort()).toEqual([
      'balance',
      'checkMode',
      'excludeInstances',
      'fallbackToWriter',
      'weights',
    ]);
  });

  it('accepts a transaction-mode cluster with a pool, a cap, prepared statements and slow start', () => {
    // Act
    const input = validateAdd(
      add({
        poolMode: 'transaction',
        poolSize: 20,
        maxDbConnections: 40,
        maxPreparedStatements: 200,
        slowStartMs: 10_000,
      }),
    );
    // Assess
    expect(input.options).toMatchObject({
      poolMode: 'transaction',
      poolSize: 20,
      maxDbConnections: 40,
      maxPreparedStatements: 200,
      slowStartMs: 10_000,
    });
  });

  it.each([
    [{ poolMode: 'statement' }, 'options.poolMode'],
    [{ poolMode: 'Transaction' }, 'options.poolMode'],
    [{ poolSize: 0 }, 'options.poolSize'],
    [{ poolSize: 5001 }, 'options.poolSize'],
    [{ poolSize: 2.5 }, 'options.poolSize'],
    [{ maxDbConnections: -1 }, 'options.maxDbConnections'],
    [{ maxDbConnections: 5001 }, 'options.maxDbConnections'],
    [{ maxPreparedStatements: 10_001, poolMode: 'transaction' }, 'options.maxPreparedStatements'],
    [{ slowStartMs: 600_001 }, 'options.slowStartMs'],
    [{ slowStartMs: '10s' }, 'options.slowStartMs'],
  ])('refuses %j, naming %s', (options, field) => {
    // Act
    const issues = issuesOf(() => validateAdd(add(options)));
    // Assess
    expect(issues.map((i) => i.field)).toEqual([field]);
  });

  it('refuses prepared statements outside transaction mode and a pool above its cap, naming the field', () => {
    // Act
    const sessionMode = issuesOf(() =>
      validateAdd(add({ poolMode: 'session', maxPreparedStatements: 100 })),
    );
    const hostMode = issuesOf(() => validateAdd(add({ maxPreparedStatements: 100 })));
    const aboveCap = issuesOf(() => validateAdd(add({ poolSize: 50, maxDbConnections: 40 })));
    // Assess
    expect(sessionMode).toEqual([
      {
        field: 'options.maxPreparedStatements',
        message:
          '100 needs poolMode "transaction" (poolMode is "session"; session mode keeps prepared statements without it)',
      },
    ]);
    expect(hostMode[0]?.message).toMatch(/needs poolMode "transaction" \(poolMode is not set/);
    expect(aboveCap).toEqual([
      {
        field: 'options.poolSize',
        message: '50 is above maxDbConnections 40: the pool could never fill',
      },
    ]);
  });

  it('accepts 0 as "off" for the cap and for prepared statements in any mode', () => {
    // Act + Assess
    expect(issuesOf(() => validateAdd(add({ maxPreparedStatements: 0 })))).toEqual([]);
    expect(issuesOf(() => validateAdd(add({ poolSize: 100, maxDbConnections: 0 })))).toEqual([]);
  });

  it('checks an update on what it sends; the merge is checked in full when stored', () => {
    // Act
    const alone = issuesOf(() =>
      validateUpdate({ clusterId: 'orders', version: 1, options: { maxPreparedStatements: 5 } }),
    );
    const contradicting = issuesOf(() =>
      validateUpdate({
        clusterId: 'orders',
        version: 1,
        options: { maxPreparedStatements: 5, poolMode: 'session' },
      }),
    );
    const merged = ClusterOptionsSchema.safeParse({ maxPreparedStatements: 5 });
    // Assess
    expect(alone).toEqual([]);
    expect(contradicting.map((i) => i.field)).toEqual(['options.maxPreparedStatements']);
    expect(merged.success).toBe(false);
    expect(merged.error?.issues[0]?.path).toEqual(['maxPreparedStatements']);
  });
});

describe('poolingIssues and pgbouncerNeeded', () => {
  it('need PgBouncer 1.21 only for prepared statements in transaction mode', () => {
    // Act + Assess
    expect(pgbouncerNeeded({ poolMode: 'transaction', maxPreparedStatements: 1 })).toBe('1.21');
    expect(pgbouncerNeeded({ poolMode: 'transaction', maxPreparedStatements: 0 })).toBeUndefined();
    expect(pgbouncerNeeded({ poolMode: 'transaction', poolSize: 5, maxDbConnections: 9 })).toBe(
      undefined,
    );
    expect(poolingIssues({ poolSize: 9, maxDbConnections: 9 }, true)).toEqual([]);
  });
});
