import { auroraCluster } from '@aurora-haproxy/test-support/rds-responses';
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { type AdminDeps, runAdmin } from '../../../functions/admin/admin';
import type { AdminResult } from '../../../functions/admin/result';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { silentLog } from '../../../functions/shared/observability';
import { chaos, oneBadField, validAdd, validOther } from './arbitraries';
import { FakeRegistry } from './fake-registry';

/**
 * Fuzz of the admin input (12 000 cases in all). Properties: every request with a bad field
 * is rejected with VALIDATION_FAILED naming that field, and neither the registry nor RDS is
 * called (validate before store); every valid request is accepted; anything at all gives a
 * typed result, never a throw or a stack trace, and whatever reaches the registry holds only
 * config-safe strings ([A-Za-z0-9_-]) and in-range integers.
 */
const rdsMock = mockClient(RDSClient);
let rdsCalls = 0;
/** Generous: the machine is shared; the four properties take ~7 s of CPU together. */
const FUZZ_TIMEOUT_MS = 90_000;

function fuzzDeps(registry: FakeRegistry): AdminDeps {
  return {
    registry,
    rds: new RDSClient({ region: 'eu-west-1' }),
    triggerReconcile: async () => {},
    readStatus: async () => ({}),
    reservedPorts: DEFAULT_RESERVED,
    log: silentLog,
  };
}

const SAFE_STRING = /^[A-Za-z0-9_-]*$/;

/** Every string leaf is config-safe; every number an integer. Returns the first offender. */
function unsafeLeaf(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string')
    return SAFE_STRING.test(value) ? undefined : `${path}=${JSON.stringify(value)}`;
  if (typeof value === 'number') return Number.isInteger(value) ? undefined : `${path}=${value}`;
  if (typeof value === 'boolean' || value === undefined) return undefined;
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const bad = unsafeLeaf(v, `${path}.${k}`);
      if (bad) return bad;
    }
    return undefined;
  }
  return `${path}=${String(value)}`;
}

/** Plain checks in the hot loop (vitest's expect costs ~0.1 ms each, times 12 000 cases). */
function check(condition: boolean, what: string, subject: unknown): void {
  if (!condition) throw new Error(`${what}: ${JSON.stringify(subject)}`);
}

function assertCleanFailure(result: AdminResult) {
  if (result.ok) return;
  check(typeof result.error.code === 'string', 'failure without a code', result);
  check(result.error.message.length > 0, 'failure without a message', result);
  check(!/\n|\bat .+:\d+:\d+/.test(result.error.message), 'multi-line or stack message', result);
}

describe('admin input fuzz', () => {
  beforeAll(() => {
    rdsMock.on(DescribeDBClustersCommand).callsFake((input: { DBClusterIdentifier: string }) => {
      rdsCalls += 1;
      return {
        DBClusters: [
          auroraCluster(input.DBClusterIdentifier, [
            { id: 'w1', writer: true },
            { id: 'r1', writer: false },
          ]),
        ],
      };
    });
  });

  it(
    'rejects every request with one bad field, naming it, and calls nothing',
    async () => {
      await fc.assert(
        fc.asyncProperty(oneBadField, async ({ request, field }) => {
          // Prepare
          const registry = new FakeRegistry();
          const rdsCallsBefore = rdsCalls;

          // Act
          const result = await runAdmin(request, fuzzDeps(registry));

          // Assess
          check(!result.ok && result.error.code === 'VALIDATION_FAILED', 'not rejected', result);
          check(
            !result.ok && (result.error.issues ?? []).some((i) => i.field.startsWith(field)),
            `error does not name ${field}`,
            result,
          );
          assertCleanFailure(result);
          check(registry.calls.length === 0, 'registry called on invalid input', registry.calls);
          check(rdsCalls === rdsCallsBefore, 'RDS called on invalid input', request);
        }),
        { numRuns: 5000 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'accepts every valid add, storing the normalized values',
    async () => {
      await fc.assert(
        fc.asyncProperty(validAdd, async (request) => {
          // Prepare
          const registry = new FakeRegistry();

          // Act
          const result = await runAdmin(request, fuzzDeps(registry));

          // Assess
          check(result.ok && result.action === 'add', 'valid add not accepted', {
            request,
            result,
          });
          check(registry.calls.length === 1, 'registry not called once', registry.calls);
          const stored = registry.clusters.get(request.clusterId.toLowerCase());
          check(stored?.port === request.port, 'port not stored', stored);
          check(
            JSON.stringify(stored?.databases) === JSON.stringify(request.databases),
            'databases not stored as sent',
            stored,
          );
          const unsafe = unsafeLeaf(registry.calls[0]?.args);
          check(unsafe === undefined, 'unsafe value stored', unsafe);
        }),
        { numRuns: 2500 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'accepts every valid update, remove, get, list, status and reconcile-now request',
    async () => {
      await fc.assert(
        fc.asyncProperty(validOther, async (request) => {
          // Act
          const result = await runAdmin(request, fuzzDeps(new FakeRegistry()));

          // Assess: valid requests on an empty registry pass validation (a missing cluster is
          // CLUSTER_NOT_FOUND, never VALIDATION_FAILED)
          check(result.ok || result.error.code === 'CLUSTER_NOT_FOUND', 'valid request refused', {
            request,
            result,
          });
          assertCleanFailure(result);
        }),
        { numRuns: 1500 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'answers anything with a typed result and stores only config-safe values',
    async () => {
      await fc.assert(
        fc.asyncProperty(chaos, async (request) => {
          // Prepare
          const registry = new FakeRegistry();

          // Act
          const result = await runAdmin(request, fuzzDeps(registry));

          // Assess
          check(typeof result.ok === 'boolean', 'untyped result', result);
          assertCleanFailure(result);
          if (!result.ok && result.error.code === 'VALIDATION_FAILED') {
            check(registry.calls.length === 0, 'registry called on invalid input', registry.calls);
          }
          for (const call of registry.calls) {
            const unsafe = unsafeLeaf(call.args);
            check(unsafe === undefined, 'unsafe value stored', unsafe);
          }
        }),
        { numRuns: 3000 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
