import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { RecordingLog } from '@aurora-haproxy/test-support/recording';
import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AliasTakenError,
  ClusterExistsError,
  ClusterNotFoundError,
  PortTakenError,
  VersionConflictError,
} from '../../../functions/registry/errors';
import { servableRegistry } from '../../../functions/registry/servable';
import { RegistryStore } from '../../../functions/registry/store';
import { validateAdd, validateUpdate } from '../../../functions/registry/validate';

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the operation to fail');
}

/** The registry store against real DynamoDB Local: one instance per file, a table per test. */
describe('RegistryStore on DynamoDB Local', () => {
  let client: DynamoDBClient;
  let table: string;
  let store: RegistryStore;
  let tableCount = 0;

  const ddb = useDynamoDbLocal();
  beforeAll(async () => {
    client = ddb().client();
  });
  afterAll(async () => {
    client?.destroy();
  });
  beforeEach(async () => {
    tableCount += 1;
    table = `registry-${tableCount}`;
    await ddb().createTable(table);
    store = new RegistryStore(client, table);
  });

  const addInput = (clusterId: string, port: number, aliases: string[]) =>
    validateAdd({
      clusterId,
      port,
      databases: aliases.map((alias) => ({ alias, dbname: 'app' })),
    });

  const claimHolder = async (pk: string) => {
    const read = await client.send(
      new GetItemCommand({
        TableName: table,
        Key: { pk: { S: pk }, sk: { S: 'CLAIM' } },
        ConsistentRead: true,
      }),
    );
    return read.Item?.clusterId?.S;
  };

  it('adds, gets and lists clusters (list follows every page)', async () => {
    // Prepare
    const ids = Array.from({ length: 7 }, (_, i) => `cluster-${i}`);

    // Act
    for (const [i, id] of ids.entries()) await store.add(addInput(id, 20000 + i, [`db_${i}`]));
    const listed = await store.list({ pageSize: 2 });
    const one = await store.get('CLUSTER-3');
    const count = await store.count();

    // Assess
    expect(listed.map((c) => c.clusterId)).toEqual(ids);
    expect(one).toMatchObject({ clusterId: 'cluster-3', port: 20003, version: 1 });
    expect(one?.options).toMatchObject({ balance: 'leastconn', checkMode: 'tcp-check' });
    expect(await store.get('absent')).toBeUndefined();
    // Clusters only: the port and alias claims in the table are not counted.
    expect(count).toBe(7);
  });

  it('a stored cluster that no longer parses fails list, and reconcile lists the others', async () => {
    // Prepare: one good cluster, and one stored before the rule against the alias pgbouncer
    await store.add(addInput('good', 20001, ['good_db']));
    const old = await store.add(addInput('old', 20002, ['old_db']));
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: 'REGISTRY' }, sk: { S: 'CLUSTER#old' } },
        UpdateExpression: 'SET databases[0].alias = :reserved',
        ExpressionAttributeValues: { ':reserved': { S: 'pgbouncer' } },
      }),
    );
    const log = new RecordingLog();

    // Act
    const strict = await store.list().catch((error: Error) => error);
    const servable = await servableRegistry(store, log).list();

    // Assess
    expect(old.version).toBe(1);
    expect(String(strict)).toMatch(
      /stored registry item CLUSTER#old is malformed: databases.0.alias: is reserved by PgBouncer/,
    );
    expect(servable.map((c) => c.clusterId)).toEqual(['good']);
    expect(JSON.stringify(log.entries)).toMatch(/CLUSTER#old is malformed/);
  });

  it('rejects a second add of one cluster, port or alias, naming what is taken', async () => {
    // Prepare
    await store.add(addInput('alpha', 21000, ['sales', 'hr']));

    // Act
    const sameCluster = await failure(store.add(addInput('alpha', 21001, ['other'])));
    const samePort = await failure(store.add(addInput('beta', 21000, ['beta_db'])));
    const sameAlias = await failure(store.add(addInput('gamma', 21002, ['gamma_db', 'hr'])));

    // Assess
    expect(sameCluster).toBeInstanceOf(ClusterExistsError);
    expect(samePort).toBeInstanceOf(PortTakenError);
    expect(samePort.message).toBe('port: 21000 is already used by cluster alpha');
    expect(sameAlias).toBeInstanceOf(AliasTakenError);
    expect(sameAlias.message).toBe('databases.alias: hr is already used by cluster alpha');
    expect(await store.list()).toHaveLength(1);
    expect(await claimHolder('PORT#21001')).toBeUndefined();
    expect(await claimHolder('ALIAS#gamma_db')).toBeUndefined();
  });

  it('lets exactly one of 50 concurrent adds for one port win', async () => {
    // Prepare
    const contenders = Array.from({ length: 50 }, (_, i) =>
      addInput(`contender-${i}`, 22000, [`alias_${i}`]),
    );

    // Act
    const results = await Promise.allSettled(contenders.map((input) => store.add(input)));

    // Assess
    const winners = results.filter((r) => r.status === 'fulfilled');
    const losers = results.filter((r) => r.status === 'rejected');
    expect(winners).toHaveLength(1);
    for (const loser of losers) expect(loser.reason).toBeInstanceOf(PortTakenError);
    const listed = await store.list();
    expect(listed).toHaveLength(1);
    expect(await claimHolder('PORT#22000')).toBe(listed[0]?.clusterId);
    // The losers' alias claims were never written (all or nothing).
    const aliasHolders = await Promise.all(
      contenders.map((_, i) => claimHolder(`ALIAS#alias_${i}`)),
    );
    expect(aliasHolders.filter((h) => h !== undefined)).toEqual([listed[0]?.clusterId]);
  });

  it('lets exactly one of 50 concurrent adds for one alias win', async () => {
    // Prepare
    const contenders = Array.from({ length: 50 }, (_, i) =>
      addInput(`alias-contender-${i}`, 23000 + i, ['shared_alias']),
    );

    // Act
    const results = await Promise.allSettled(contenders.map((input) => store.add(input)));

    // Assess
    const winners = results.filter((r) => r.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AliasTakenError);
    }
    const listed = await store.list();
    expect(listed).toHaveLength(1);
    expect(await claimHolder('ALIAS#shared_alias')).toBe(listed[0]?.clusterId);
    const portHolders = await Promise.all(
      contenders.map((_, i) => claimHolder(`PORT#${23000 + i}`)),
    );
    expect(portHolders.filter((h) => h !== undefined)).toEqual([listed[0]?.clusterId]);
  });

  it('lets exactly one of 50 concurrent updates from one version win, losing no update', async () => {
    // Prepare
    await store.add(addInput('shared', 24000, ['shared_db']));
    const updates = Array.from({ length: 50 }, (_, i) =>
      validateUpdate({ clusterId: 'shared', version: 1, options: { maxReplicaLagMs: 1000 + i } }),
    );

    // Act
    const results = await Promise.allSettled(updates.map((input) => store.update(input)));

    // Assess
    const winners = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(winners).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(VersionConflictError);
    }
    const stored = await store.get('shared');
    expect(stored?.version).toBe(2);
    expect(stored?.options.maxReplicaLagMs).toBe(winners[0]?.options.maxReplicaLagMs);
  });

  it('applies 50 concurrent read-modify-write increments without losing one', async () => {
    // Prepare: each writer retries on conflict, as an operator would
    await store.add(addInput('counter', 24500, ['counter_db']));
    const increment = async () => {
      for (;;) {
        const current = await store.get('counter');
        const lag = (current?.options.maxReplicaLagMs ?? 0) + 1;
        try {
          return await store.update(
            validateUpdate({
              clusterId: 'counter',
              version: current?.version,
              options: { maxReplicaLagMs: lag },
            }),
          );
        } catch (error) {
          if (!(error instanceof VersionConflictError)) throw error;
        }
      }
    };

    // Act
    await Promise.all(Array.from({ length: 50 }, increment));

    // Assess
    const stored = await store.get('counter');
    expect(stored?.options.maxReplicaLagMs).toBe(50);
    expect(stored?.version).toBe(51);
  });

  it('rejects an update with a stale version and changes nothing', async () => {
    // Prepare
    await store.add(addInput('stale', 25000, ['stale_db']));
    await store.update(validateUpdate({ clusterId: 'stale', version: 1, port: 25001 }));
    const before = await store.get('stale');

    // Act
    const stale = await failure(
      store.update(
        validateUpdate({
          clusterId: 'stale',
          version: 1,
          port: 25002,
          databases: [{ alias: 'x', dbname: 'y' }],
        }),
      ),
    );

    // Assess
    expect(stale).toBeInstanceOf(VersionConflictError);
    expect(stale.message).toMatch(/stale is at version 2, not 1/);
    expect(await store.get('stale')).toEqual(before);
    expect(await claimHolder('PORT#25002')).toBeUndefined();
    expect(await claimHolder('ALIAS#x')).toBeUndefined();
    expect(await claimHolder('PORT#25001')).toBe('stale');
  });

  it('moves port and alias claims on update and keeps options not sent', async () => {
    // Prepare
    await store.add(
      validateAdd({
        clusterId: 'mover',
        port: 26000,
        databases: [
          { alias: 'keep', dbname: 'app' },
          { alias: 'drop', dbname: 'app' },
        ],
        options: { fallbackToWriter: true, balance: 'roundrobin' },
      }),
    );
    await store.add(addInput('other', 26001, ['taken']));

    // Act
    const updated = await store.update(
      validateUpdate({
        clusterId: 'mover',
        version: 1,
        port: 26002,
        databases: [
          { alias: 'keep', dbname: 'app2' },
          { alias: 'fresh', dbname: 'app' },
        ],
        options: { balance: 'random' },
      }),
    );
    const portClash = await failure(
      store.update(validateUpdate({ clusterId: 'mover', version: 2, port: 26001 })),
    );
    const aliasClash = await failure(
      store.update(
        validateUpdate({
          clusterId: 'mover',
          version: 2,
          databases: [{ alias: 'taken', dbname: 'a' }],
        }),
      ),
    );

    // Assess
    expect(updated.version).toBe(2);
    expect(updated.options).toMatchObject({ balance: 'random', fallbackToWriter: true });
    expect(await claimHolder('PORT#26000')).toBeUndefined();
    expect(await claimHolder('PORT#26002')).toBe('mover');
    expect(await claimHolder('ALIAS#drop')).toBeUndefined();
    expect(await claimHolder('ALIAS#keep')).toBe('mover');
    expect(await claimHolder('ALIAS#fresh')).toBe('mover');
    expect(portClash).toBeInstanceOf(PortTakenError);
    expect(portClash.message).toBe('port: 26001 is already used by cluster other');
    expect(aliasClash).toBeInstanceOf(AliasTakenError);
    expect(await store.get('mover')).toEqual(updated);
  });

  it('remove frees the port and aliases for another cluster', async () => {
    // Prepare
    await store.add(addInput('leaving', 27000, ['a1', 'a2']));

    // Act
    const removed = await store.remove('leaving');
    const reuse = await store.add(addInput('arriving', 27000, ['a1', 'a2']));

    // Assess
    expect(removed.clusterId).toBe('leaving');
    expect(await store.get('leaving')).toBeUndefined();
    expect(reuse.port).toBe(27000);
    expect(await claimHolder('PORT#27000')).toBe('arriving');
    await expect(store.remove('leaving')).rejects.toBeInstanceOf(ClusterNotFoundError);
    await expect(store.remove('arriving', 7)).rejects.toBeInstanceOf(VersionConflictError);
    expect(await store.get('arriving')).toEqual(reuse);
  });

  it('replaces 20 aliases and the port in one transaction (43 items)', async () => {
    // Prepare
    const before = Array.from({ length: 20 }, (_, i) => `old_${i}`);
    const after = Array.from({ length: 20 }, (_, i) => `new_${i}`);
    await store.add(addInput('wide', 29000, before));

    // Act
    const updated = await store.update(
      validateUpdate({
        clusterId: 'wide',
        version: 1,
        port: 29001,
        databases: after.map((alias) => ({ alias, dbname: 'app' })),
      }),
    );

    // Assess
    expect(updated.databases.map((d) => d.alias)).toEqual(after);
    expect(await claimHolder('ALIAS#old_7')).toBeUndefined();
    expect(await claimHolder('ALIAS#new_19')).toBe('wide');
    expect(await claimHolder('PORT#29000')).toBeUndefined();
  });

  it('leaves no orphan claim when updates and removes race', async () => {
    // Prepare
    const rounds = Array.from({ length: 8 }, (_, i) => i);
    for (const i of rounds) await store.add(addInput(`race-${i}`, 30000 + i, [`race_${i}`]));

    // Act: per cluster, a port+alias move and a remove at the same time
    await Promise.allSettled(
      rounds.flatMap((i) => [
        store.update(
          validateUpdate({
            clusterId: `race-${i}`,
            version: 1,
            port: 31000 + i,
            databases: [{ alias: `moved_${i}`, dbname: 'app' }],
          }),
        ),
        store.remove(`race-${i}`),
      ]),
    );

    // Assess: every cluster is gone, and so is every claim it ever held
    expect(await store.list()).toEqual([]);
    for (const i of rounds) {
      expect(await claimHolder(`PORT#${30000 + i}`)).toBeUndefined();
      expect(await claimHolder(`PORT#${31000 + i}`)).toBeUndefined();
      expect(await claimHolder(`ALIAS#race_${i}`)).toBeUndefined();
      expect(await claimHolder(`ALIAS#moved_${i}`)).toBeUndefined();
    }
  });

  it('an add whose answer is lost and retried by the SDK still succeeds (idempotent)', async () => {
    // Prepare: a client that drops the answer of the first committed transaction, as a
    // network fault would; the SDK retries the same request with the ClientRequestToken it
    // generated, which DynamoDB answers as already done.
    const lossy = ddb().client();
    let dropped = 0;
    lossy.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'TransactWriteItemsCommand' && dropped === 0) {
          dropped += 1;
          throw Object.assign(new Error('connection reset after commit'), {
            name: 'TimeoutError',
            $metadata: {},
          });
        }
        return result;
      },
      { step: 'deserialize', name: 'dropFirstTransactAnswer' },
    );
    const lossyStore = new RegistryStore(lossy, table);

    // Act
    const added = await lossyStore.add(addInput('lossy', 32000, ['lossy_db']));

    // Assess
    expect(dropped).toBe(1);
    expect(added.clusterId).toBe('lossy');
    expect(await store.get('lossy')).toEqual(added);
    lossy.destroy();
  });

  it('update of an unknown cluster is ClusterNotFoundError', async () => {
    await expect(
      store.update(validateUpdate({ clusterId: 'ghost', version: 1, port: 28000 })),
    ).rejects.toBeInstanceOf(ClusterNotFoundError);
    expect(await claimHolder('PORT#28000')).toBeUndefined();
  });
});
