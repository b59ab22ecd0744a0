import { REGISTRY_MAX_CLUSTERS } from '@aurora-haproxy/contract/registry';
import { auroraCluster, clusterNotFound } from '@aurora-haproxy/test-support/rds-responses';
import { RecordingLog } from '@aurora-haproxy/test-support/recording';
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { type AdminDeps, runAdmin } from '../../../functions/admin/admin';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { FakeRegistry } from './fake-registry';

const rdsMock = mockClient(RDSClient);

const addRequest = {
  action: 'add',
  clusterId: 'orders-prod',
  port: 15432,
  databases: [{ alias: 'orders', dbname: 'orders' }],
};

describe('admin actions', () => {
  let registry: FakeRegistry;
  let triggers: string[];
  let log: RecordingLog;
  let deps: AdminDeps;

  beforeEach(() => {
    rdsMock.reset();
    registry = new FakeRegistry();
    triggers = [];
    log = new RecordingLog();
    deps = {
      registry,
      rds: new RDSClient({ region: 'eu-west-1' }),
      triggerReconcile: async (reason) => {
        triggers.push(reason);
      },
      readStatus: async () => ({ desiredSha256: 'a'.repeat(64), instances: [] }),
      reservedPorts: DEFAULT_RESERVED,
      log,
    };
  });

  const rdsAnswers = (members: { id: string; writer: boolean }[], engine?: string) =>
    rdsMock
      .on(DescribeDBClustersCommand)
      .resolves({ DBClusters: [auroraCluster('orders-prod', members, engine)] });

  describe('add', () => {
    it('checks the cluster with RDS, stores it and requests a reconcile', async () => {
      // Prepare
      rdsAnswers([
        { id: 'orders-prod-1', writer: true },
        { id: 'orders-prod-2', writer: false },
      ]);

      // Act
      const result = await runAdmin(addRequest, deps);

      // Assess
      expect(result).toMatchObject({
        ok: true,
        action: 'add',
        cluster: { clusterId: 'orders-prod', port: 15432, version: 1 },
        reconcile: { triggered: true },
      });
      expect(rdsMock.commandCalls(DescribeDBClustersCommand)[0]?.args[0].input).toEqual({
        DBClusterIdentifier: 'orders-prod',
      });
      expect(registry.clusters.has('orders-prod')).toBe(true);
      expect(triggers).toEqual(['add orders-prod']);
    });

    it.each([
      [
        'RDS_CLUSTER_NOT_FOUND',
        () => rdsMock.on(DescribeDBClustersCommand).rejects(clusterNotFound('orders-prod')),
        'clusterId: RDS has no DB cluster orders-prod in this account and region; use force to register it anyway',
      ],
      [
        'RDS_CLUSTER_NOT_FOUND',
        () => rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [] }),
        'clusterId: RDS has no DB cluster orders-prod in this account and region; use force to register it anyway',
      ],
      [
        'RDS_NOT_AURORA_POSTGRESQL',
        () =>
          rdsAnswers(
            [
              { id: 'w', writer: true },
              { id: 'r', writer: false },
            ],
            'aurora-mysql',
          ),
        'clusterId: orders-prod runs engine aurora-mysql, not aurora-postgresql',
      ],
      [
        'RDS_NO_READER',
        () => rdsAnswers([{ id: 'w', writer: true }]),
        'clusterId: orders-prod has no reader (1 writer, 0 readers); add a reader instance, or use force to register it anyway',
      ],
    ])('refuses with %s and stores nothing', async (code, answer, message) => {
      // Prepare
      answer();

      // Act
      const result = await runAdmin(addRequest, deps);

      // Assess
      expect(result).toEqual({ ok: false, error: { code, message } });
      expect(registry.calls).toEqual([]);
      expect(triggers).toEqual([]);
    });

    it('answers RDS_UNAVAILABLE when RDS throttles, and logs it', async () => {
      // Prepare
      rdsMock
        .on(DescribeDBClustersCommand)
        .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));

      // Act
      const result = await runAdmin(addRequest, {
        ...deps,
        rds: new RDSClient({ maxAttempts: 1 }),
      });

      // Assess
      expect(result).toMatchObject({ ok: false, error: { code: 'RDS_UNAVAILABLE' } });
      expect(result.ok || result.error.message).toMatch(/Throttling: Rate exceeded.*use force/);
      expect(registry.calls).toEqual([]);
      expect(log.entries.some((e) => e.level === 'error')).toBe(true);
    });

    it('refuses the cluster past the registry ceiling, before RDS and the store', async () => {
      // Prepare
      for (let i = 0; i < REGISTRY_MAX_CLUSTERS; i++) {
        registry.clusters.set(`c${i}`, {} as never);
      }

      // Act
      const result = await runAdmin({ ...addRequest, force: false }, deps);

      // Assess
      expect(result).toMatchObject({ ok: false, error: { code: 'REGISTRY_FULL' } });
      expect(!result.ok && result.error.message).toMatch(
        /^clusterId: the registry holds 5000 clusters, the most one bundle is measured/,
      );
      expect(registry.calls).toEqual([]);
      expect(rdsMock.calls()).toHaveLength(0);
      expect(triggers).toEqual([]);
    });

    it('skips the RDS checks with force', async () => {
      // Act
      const result = await runAdmin({ ...addRequest, force: true }, deps);

      // Assess
      expect(result.ok).toBe(true);
      expect(rdsMock.commandCalls(DescribeDBClustersCommand)).toHaveLength(0);
      expect(registry.clusters.size).toBe(1);
    });

    it('passes registry conflicts through with their code and message', async () => {
      // Prepare
      await runAdmin({ ...addRequest, force: true }, deps);
      triggers = [];

      // Act
      const result = await runAdmin(
        {
          ...addRequest,
          clusterId: 'billing',
          databases: [{ alias: 'b', dbname: 'b' }],
          force: true,
        },
        deps,
      );

      // Assess
      expect(result).toEqual({
        ok: false,
        error: {
          code: 'PORT_TAKEN',
          message: 'port: 15432 is already used by cluster orders-prod',
        },
      });
      expect(triggers).toEqual([]);
    });

    it('rejects a reserved port before calling RDS or the registry', async () => {
      // Act
      const result = await runAdmin({ ...addRequest, port: 6432 }, deps);

      // Assess
      expect(result).toEqual({
        ok: false,
        error: {
          code: 'VALIDATION_FAILED',
          message: 'port: 6432 is reserved for pgbouncer',
          issues: [
            { field: 'port', code: 'reserved_port', message: '6432 is reserved for pgbouncer' },
          ],
        },
      });
      expect(rdsMock.calls()).toHaveLength(0);
      expect(registry.calls).toEqual([]);
    });
  });

  describe('update, remove, get, list', () => {
    beforeEach(async () => {
      await runAdmin({ ...addRequest, force: true }, deps);
      triggers = [];
      registry.calls.length = 0;
    });

    it('update changes only what is sent and requests a reconcile', async () => {
      // Act
      const result = await runAdmin(
        {
          action: 'update',
          clusterId: 'orders-prod',
          version: 1,
          options: { fallbackToWriter: true },
        },
        deps,
      );

      // Assess
      expect(result).toMatchObject({
        ok: true,
        action: 'update',
        cluster: { version: 2, options: { fallbackToWriter: true, balance: 'leastconn' } },
      });
      expect(triggers).toEqual(['update orders-prod']);
    });

    it('update with a stale version is VERSION_CONFLICT', async () => {
      // Act
      const result = await runAdmin(
        { action: 'update', clusterId: 'orders-prod', version: 5, port: 15433 },
        deps,
      );

      // Assess
      expect(result).toEqual({
        ok: false,
        error: {
          code: 'VERSION_CONFLICT',
          message: 'version: orders-prod is at version 1, not 5; read it again and retry',
        },
      });
      expect(registry.clusters.get('orders-prod')?.port).toBe(15432);
      expect(triggers).toEqual([]);
    });

    it('remove deletes and requests a reconcile; a second remove is CLUSTER_NOT_FOUND', async () => {
      // Act
      const first = await runAdmin({ action: 'remove', clusterId: 'Orders-Prod' }, deps);
      const second = await runAdmin({ action: 'remove', clusterId: 'orders-prod' }, deps);

      // Assess
      expect(first).toMatchObject({
        ok: true,
        action: 'remove',
        cluster: { clusterId: 'orders-prod' },
      });
      expect(second).toEqual({
        ok: false,
        error: { code: 'CLUSTER_NOT_FOUND', message: 'clusterId: orders-prod is not registered' },
      });
      expect(triggers).toEqual(['remove orders-prod']);
    });

    it('get answers the cluster, or CLUSTER_NOT_FOUND', async () => {
      expect(await runAdmin({ action: 'get', clusterId: 'orders-prod' }, deps)).toMatchObject({
        ok: true,
        cluster: { clusterId: 'orders-prod' },
      });
      expect(await runAdmin({ action: 'get', clusterId: 'nope' }, deps)).toMatchObject({
        ok: false,
        error: { code: 'CLUSTER_NOT_FOUND' },
      });
    });

    it('list answers every cluster and requests nothing', async () => {
      // Act
      const result = await runAdmin({ action: 'list' }, deps);

      // Assess
      expect(result).toMatchObject({
        ok: true,
        action: 'list',
        clusters: [{ clusterId: 'orders-prod' }],
      });
      expect(triggers).toEqual([]);
    });
  });

  describe('status and reconcile-now', () => {
    it('status answers what readStatus reads', async () => {
      expect(await runAdmin({ action: 'status' }, deps)).toEqual({
        ok: true,
        action: 'status',
        status: { desiredSha256: 'a'.repeat(64), instances: [] },
      });
    });

    it('status answers STATUS_UNAVAILABLE when the state cannot be read', async () => {
      // Prepare
      deps.readStatus = async () => {
        throw new Error('ResourceNotFoundException: table missing');
      };

      // Act
      const result = await runAdmin({ action: 'status' }, deps);

      // Assess
      expect(result).toEqual({
        ok: false,
        error: {
          code: 'STATUS_UNAVAILABLE',
          message: 'could not read the fleet status: ResourceNotFoundException: table missing',
        },
      });
    });

    it('reconcile-now requests a run; a failed request is reported, not thrown', async () => {
      // Prepare
      const ok = await runAdmin({ action: 'reconcile-now' }, deps);
      deps.triggerReconcile = async () => {
        throw new Error('AccessDeniedException');
      };

      // Act
      const failed = await runAdmin({ action: 'reconcile-now' }, deps);

      // Assess
      expect(ok).toEqual({ ok: true, action: 'reconcile-now', reconcile: { triggered: true } });
      expect(failed).toEqual({
        ok: true,
        action: 'reconcile-now',
        reconcile: { triggered: false, error: 'AccessDeniedException' },
      });
      expect(log.entries.map((e) => e.level)).toContain('warn');
    });
  });

  describe('bad requests', () => {
    it.each([
      [
        { action: 'drop-table' },
        'action: must be one of add, update, remove, get, list, status, reconcile-now',
      ],
      [null, '(input): expected an object with an action'],
      ['add', '(input): expected an object with an action'],
      [{ action: 'list', extra: true }, '(input): Unrecognized key: "extra"'],
      [{ action: 'get' }, 'clusterId: Invalid input: expected string, received undefined'],
      [
        { action: 'remove', clusterId: 'a', version: 0 },
        'version: Too small: expected number to be >=1',
      ],
    ])('rejects %j with a clear message', async (request, message) => {
      // Act
      const result = await runAdmin(request, deps);

      // Assess
      expect(result).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', message } });
      expect(registry.calls).toEqual([]);
    });

    it('answers INTERNAL with no stack trace for an unexpected error, and logs the stack', async () => {
      // Prepare
      registry.list = async () => {
        throw new TypeError("Cannot read properties of undefined (reading 'Items')");
      };

      // Act
      const result = await runAdmin({ action: 'list' }, deps);

      // Assess
      expect(result).toEqual({
        ok: false,
        error: {
          code: 'INTERNAL',
          message: "list failed unexpectedly; the error is in the admin function's log",
        },
      });
      expect(JSON.stringify(result)).not.toMatch(/\bat \w|TypeError/);
      expect(log.entries.find((e) => e.level === 'error')?.attributes?.stack).toMatch(/TypeError/);
    });
  });
});
