import { mergeOptions, RegistryClusterSchema } from '@aurora-haproxy/contract/registry';
import { describe, expect, it } from 'vitest';
import { RegistryValidationError } from '../../../functions/registry/errors';
import { validateAdd, validateUpdate } from '../../../functions/registry/validate';
import { FakeRegistry } from '../admin/fake-registry';

/** The writer endpoint option (issue 12): its rules and what an update does with it. */
const valid = {
  clusterId: 'orders-prod',
  port: 15432,
  databases: [{ alias: 'orders', dbname: 'orders' }],
};
const writer = { alias: 'orders_rw', dbname: 'orders', port: 15433 };

function addIssues(input: Record<string, unknown>) {
  try {
    validateAdd(input);
  } catch (error) {
    expect(error).toBeInstanceOf(RegistryValidationError);
    return (error as RegistryValidationError).issues;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('writer endpoint option', () => {
  it('is absent by default, and poolMode defaults to transaction', () => {
    // Act
    const plain = validateAdd(valid);
    const withWriter = validateAdd({ ...valid, options: { writer } });

    // Assess
    expect(plain.options.writer).toBeUndefined();
    expect(withWriter.options.writer).toEqual({ ...writer, poolMode: 'transaction' });
  });

  it.each([
    [
      'an alias equal to a reader alias',
      { ...writer, alias: 'orders' },
      'options.writer.alias',
      'writer_alias_is_reader_alias',
      /"orders" is also a reader alias of this cluster/,
    ],
    [
      "the cluster's own port",
      { ...writer, port: 15432 },
      'options.writer.port',
      'writer_port_is_reader_port',
      /15432 is the cluster's reader port/,
    ],
    [
      'a reserved port',
      { ...writer, port: 6432 },
      'options.writer.port',
      'reserved_port',
      /6432 is reserved for pgbouncer/,
    ],
    [
      "PgBouncer's admin database as alias",
      { ...writer, alias: 'pgbouncer' },
      'options.writer.alias',
      'reserved_alias',
      /reserved by PgBouncer/,
    ],
    [
      'config syntax in the alias',
      { ...writer, alias: 'rw\nmalicious = host=evil' },
      'options.writer.alias',
      'invalid_format',
      /must match/,
    ],
    [
      'config syntax in the dbname',
      { ...writer, dbname: 'orders pool_mode=session' },
      'options.writer.dbname',
      'invalid_format',
      /must match/,
    ],
    [
      'a pool mode PgBouncer would not take',
      { ...writer, poolMode: 'statement' },
      'options.writer.poolMode',
      'invalid_value',
      /transaction|session/,
    ],
    [
      'a missing port',
      { alias: 'orders_rw', dbname: 'orders' },
      'options.writer.port',
      'invalid_type',
      /number/,
    ],
    ['an unknown key', { ...writer, host: 'evil' }, 'options.writer', 'unrecognized_keys', /host/],
  ])('refuses %s, naming the field', (_, bad, field, code, message) => {
    // Act
    const issues = addIssues({ ...valid, options: { writer: bad } });

    // Assess
    expect(issues).toContainEqual(expect.objectContaining({ field, code }));
    expect(issues.find((i) => i.field === field)?.message).toMatch(message);
  });

  it('refuses a reserved writer port in an update', () => {
    // Act
    const act = () =>
      validateUpdate({
        clusterId: 'orders-prod',
        version: 1,
        options: { writer: { ...writer, port: 8404 } },
      });

    // Assess
    expect(act).toThrow(/options.writer.port: 8404 is reserved for the HAProxy stats page/);
  });

  it('an update sets, keeps (absent) or removes (null) the writer endpoint', () => {
    // Prepare
    const current = validateAdd({ ...valid, options: { writer, balance: 'random' } }).options;

    // Act
    const kept = mergeOptions(current, { balance: 'leastconn' });
    const removed = mergeOptions(current, { writer: null });
    const replaced = mergeOptions(current, {
      writer: { ...writer, port: 16000, poolMode: 'session' },
    });

    // Assess
    expect(kept.writer).toEqual(current.writer);
    expect(kept.balance).toBe('leastconn');
    expect('writer' in removed).toBe(false);
    expect(replaced.writer).toEqual({ ...writer, port: 16000, poolMode: 'session' });
  });

  it('the stored entry is checked too: an update moving the port onto the writer port is refused', async () => {
    // Prepare
    const registry = new FakeRegistry();
    await registry.add(validateAdd({ ...valid, options: { writer } }));

    // Act
    const act = registry.update(
      validateUpdate({ clusterId: 'orders-prod', version: 1, port: 15433 }),
    );

    // Assess
    await expect(act).rejects.toThrow(/options.writer.port: 15433 is the cluster's reader port/);
    expect(registry.clusters.get('orders-prod')?.version).toBe(1);
  });

  it('a stored entry whose writer alias is a reader alias does not parse', () => {
    // Act
    const parsed = RegistryClusterSchema.safeParse({
      ...valid,
      options: {
        ...validateAdd(valid).options,
        writer: { ...writer, alias: 'orders', poolMode: 'session' },
      },
      version: 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    });

    // Assess
    expect(parsed.success).toBe(false);
  });

  it("another cluster's port or alias is taken, the writer endpoint's included", async () => {
    // Prepare
    const registry = new FakeRegistry();
    await registry.add(validateAdd({ ...valid, options: { writer } }));

    // Act
    const portTaken = registry.add(
      validateAdd({ clusterId: 'b', port: 15433, databases: [{ alias: 'b', dbname: 'b' }] }),
    );
    const aliasTaken = registry.add(
      validateAdd({
        clusterId: 'c',
        port: 15500,
        databases: [{ alias: 'orders_rw', dbname: 'c' }],
      }),
    );
    const writerOnReaderAlias = registry.add(
      validateAdd({
        clusterId: 'd',
        port: 15501,
        databases: [{ alias: 'd', dbname: 'd' }],
        options: { writer: { alias: 'orders', dbname: 'd', port: 15502 } },
      }),
    );

    // Assess
    await expect(portTaken).rejects.toMatchObject({
      name: 'PortTakenError',
      message: 'port: 15433 is already used by cluster orders-prod',
    });
    await expect(aliasTaken).rejects.toMatchObject({
      name: 'AliasTakenError',
      message: 'databases.alias: orders_rw is already used by cluster orders-prod',
    });
    await expect(writerOnReaderAlias).rejects.toMatchObject({
      name: 'AliasTakenError',
      message: 'options.writer.alias: orders is already used by cluster orders-prod',
    });
  });
});
