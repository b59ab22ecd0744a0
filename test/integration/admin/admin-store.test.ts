import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { auroraCluster, clusterNotFound } from '@aurora-haproxy/test-support/rds-responses';
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AdminDeps, runAdmin } from '../../../functions/admin/admin';
import { RegistryStore } from '../../../functions/registry/store';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { silentLog } from '../../../functions/shared/observability';
import { oneBadField } from '../../unit/admin/arbitraries';

/** The admin core on the real registry store (DynamoDB Local); RDS mocked (no emulator). */
const rdsMock = mockClient(RDSClient);

describe('admin actions on DynamoDB Local', () => {
  let client: DynamoDBClient;
  let table: string;
  let deps: AdminDeps;
  let triggers: string[];
  let tables = 0;

  const ddb = useDynamoDbLocal();
  beforeAll(async () => {
    client = ddb().client();
  });
  afterAll(async () => {
    client?.destroy();
  });
  beforeEach(async () => {
    rdsMock.reset();
    tables += 1;
    table = `admin-${tables}`;
    await ddb().createTable(table);
    triggers = [];
    deps = {
      registry: new RegistryStore(client, table),
      rds: new RDSClient({ region: 'eu-west-1', maxAttempts: 1 }),
      triggerReconcile: async (reason) => {
        triggers.push(reason);
      },
      readStatus: async () => ({}),
      reservedPorts: DEFAULT_RESERVED,
      log: silentLog,
    };
  });

  const itemCount = async () =>
    (await client.send(new ScanCommand({ TableName: table, Select: 'COUNT' }))).Count;

  it('stores nothing for 300 fuzzed invalid requests or clusters RDS refuses', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBClustersCommand)
      .rejectsOnce(clusterNotFound('orders'))
      .resolvesOnce({ DBClusters: [auroraCluster('orders', [{ id: 'w', writer: true }])] })
      .resolves({
        DBClusters: [
          auroraCluster(
            'orders',
            [
              { id: 'w', writer: true },
              { id: 'r', writer: false },
            ],
            'aurora-mysql',
          ),
        ],
      });
    const bad = fc.sample(oneBadField, { numRuns: 300, seed: 7 });
    const rdsRefused = {
      action: 'add',
      clusterId: 'orders',
      port: 15432,
      databases: [{ alias: 'o', dbname: 'o' }],
    };

    // Act
    const results = await Promise.all(bad.map(({ request }) => runAdmin(request, deps)));
    const refusals = [];
    for (let i = 0; i < 3; i++) refusals.push(await runAdmin(rdsRefused, deps));

    // Assess
    expect(results.every((r) => !r.ok && r.error.code === 'VALIDATION_FAILED')).toBe(true);
    expect(refusals.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'RDS_CLUSTER_NOT_FOUND',
      'RDS_NO_READER',
      'RDS_NOT_AURORA_POSTGRESQL',
    ]);
    expect(await itemCount()).toBe(0);
    expect(triggers).toEqual([]);
  });

  it('of 20 concurrent adds for one port exactly one succeeds and triggers a reconcile', async () => {
    // Prepare
    const requests = Array.from({ length: 20 }, (_, i) => ({
      action: 'add',
      clusterId: `racer-${i}`,
      port: 16000,
      databases: [{ alias: `racer_${i}`, dbname: 'app' }],
      force: true,
    }));

    // Act
    const results = await Promise.all(requests.map((r) => runAdmin(r, deps)));

    // Assess
    const codes = results.map((r) => (r.ok ? 'ok' : r.error.code));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'PORT_TAKEN')).toHaveLength(19);
    expect(triggers).toHaveLength(1);
    // one cluster item + its port claim + its alias claim
    expect(await itemCount()).toBe(3);
  });

  it('add, update, remove through the store leave exactly the live claims', async () => {
    // Prepare
    rdsMock.on(DescribeDBClustersCommand).resolves({
      DBClusters: [
        auroraCluster('orders', [
          { id: 'w', writer: true },
          { id: 'r', writer: false },
        ]),
      ],
    });

    // Act
    const added = await runAdmin(
      { action: 'add', clusterId: 'orders', port: 15432, databases: [{ alias: 'o', dbname: 'o' }] },
      deps,
    );
    const updated = await runAdmin(
      {
        action: 'update',
        clusterId: 'orders',
        version: 1,
        databases: [
          { alias: 'o2', dbname: 'o' },
          { alias: 'o3', dbname: 'o' },
        ],
      },
      deps,
    );
    const afterUpdate = await itemCount();
    const removed = await runAdmin({ action: 'remove', clusterId: 'orders', version: 2 }, deps);

    // Assess
    expect([added.ok, updated.ok, removed.ok]).toEqual([true, true, true]);
    expect(afterUpdate).toBe(4); // cluster + port + o2 + o3
    expect(await itemCount()).toBe(0);
    expect(triggers).toEqual(['add orders', 'update orders', 'remove orders']);
  });

  it('refuses every collision of a writer endpoint with a clear error and stores nothing for it', async () => {
    // Prepare
    rdsMock.on(DescribeDBClustersCommand).callsFake((input: { DBClusterIdentifier: string }) => ({
      DBClusters: [
        auroraCluster(input.DBClusterIdentifier, [
          { id: `${input.DBClusterIdentifier}-w`, writer: true },
          { id: `${input.DBClusterIdentifier}-r`, writer: false },
        ]),
      ],
    }));
    const add = (clusterId: string, port: number, alias: string, writer?: object) =>
      runAdmin(
        {
          action: 'add',
          clusterId,
          port,
          databases: [{ alias, dbname: 'app' }],
          ...(writer ? { options: { writer } } : {}),
        },
        deps,
      );
    const first = await add('orders', 15432, 'orders', {
      alias: 'orders_rw',
      dbname: 'app',
      port: 15433,
    });
    const stored = await itemCount();

    // Act
    const refused = {
      ownReaderAlias: await add('b', 15440, 'b', { alias: 'b', dbname: 'app', port: 15441 }),
      ownReaderPort: await add('c', 15442, 'c', { alias: 'c_rw', dbname: 'app', port: 15442 }),
      otherReaderAlias: await add('d', 15444, 'd', {
        alias: 'orders',
        dbname: 'app',
        port: 15445,
      }),
      otherWriterAlias: await add('e', 15446, 'orders_rw'),
      otherWriterPort: await add('f', 15448, 'f', { alias: 'f_rw', dbname: 'app', port: 15433 }),
      updateReaderOntoWriter: await runAdmin(
        {
          action: 'update',
          clusterId: 'orders',
          version: 1,
          databases: [
            { alias: 'orders', dbname: 'app' },
            { alias: 'orders_rw', dbname: 'app' },
          ],
        },
        deps,
      ),
    };
    const afterRefusals = await itemCount();
    const removed = await runAdmin(
      { action: 'update', clusterId: 'orders', version: 1, options: { writer: null } },
      deps,
    );

    // Assess
    const errorOf = (r: Awaited<ReturnType<typeof runAdmin>>) =>
      r.ok ? 'accepted' : `${r.error.code} ${r.error.message}`;
    expect(first.ok).toBe(true);
    expect(stored).toBe(5); // cluster + 2 ports + 2 aliases
    expect(errorOf(refused.ownReaderAlias)).toMatch(
      /^VALIDATION_FAILED options\.writer\.alias: "b" is also a reader alias of this cluster/,
    );
    expect(errorOf(refused.ownReaderPort)).toMatch(
      /^VALIDATION_FAILED options\.writer\.port: 15442 is the cluster's reader port/,
    );
    expect(errorOf(refused.otherReaderAlias)).toBe(
      'ALIAS_TAKEN options.writer.alias: orders is already used by cluster orders',
    );
    expect(errorOf(refused.otherWriterAlias)).toBe(
      'ALIAS_TAKEN databases.alias: orders_rw is already used by cluster orders',
    );
    expect(errorOf(refused.otherWriterPort)).toBe(
      'PORT_TAKEN options.writer.port: 15433 is already used by cluster orders',
    );
    expect(errorOf(refused.updateReaderOntoWriter)).toMatch(
      /^VALIDATION_FAILED options\.writer\.alias: "orders_rw" is also a reader alias of this cluster/,
    );
    expect(afterRefusals).toBe(stored);
    expect(removed.ok).toBe(true);
    expect(await itemCount()).toBe(3); // the writer's port and alias released
  });
});
