import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runAdmin } from '../../../functions/admin/admin';
import type { RegistryCluster } from '../../../functions/contracts/registry';
import type { ClusterTopology } from '../../../functions/contracts/topology';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { backendName, renderBundle } from '../../../functions/render/render-bundle';
import { silentLog } from '../../../functions/shared/observability';
import { haproxyCheck } from '../../support/haproxy-check';
import { chaos, validAdd } from '../../unit/admin/arbitraries';
import { FakeRegistry } from '../../unit/admin/fake-registry';

/**
 * No accepted admin value can break out of its config line: 2 000 fuzzed add requests go
 * through the admin core; every accepted cluster is rendered by the render team's
 * renderBundle, in batches of 200 clusters (unique ids, ports and aliases, as in a registry),
 * and each batch's HAProxy config passes the real `haproxy -c` (one run per batch) with
 * exactly the sections and PgBouncer lines the accepted clusters call for, and nothing else.
 */
const CASES = 2000;
const BATCH = 200;
const SEED = 20261126;
const NOW = new Date('2026-11-26T10:00:00.000Z');

/** haproxy -c warnings a valid config may produce here (as in the render golden tests). */
const ACCEPTED_WARNINGS = [/could not resolve address/, /has no nameservers configured/];

const deps = (registry: FakeRegistry) => ({
  registry,
  rds: undefined as never,
  triggerReconcile: async () => {},
  readStatus: async () => ({}),
  reservedPorts: DEFAULT_RESERVED,
  log: silentLog,
});

/** Runs add requests through the admin core (forced: no RDS), keeping what it accepts. */
async function accept(requests: readonly object[]): Promise<RegistryCluster[]> {
  const accepted: RegistryCluster[] = [];
  for (const request of requests) {
    const result = await runAdmin({ ...request, force: true }, deps(new FakeRegistry()));
    if (result.ok && result.action === 'add') accepted.push(result.cluster);
  }
  return accepted;
}

/**
 * The generators repeat short values often (alias "a", port 1024), which one registry cannot
 * hold twice. Each repeat gets a suffix (or the next free port), and the changed requests go
 * through the admin core again: they are accepted inputs too, and every original value is
 * still rendered once.
 */
function uniquified(clusters: readonly RegistryCluster[]): object[] {
  const ids = new Set<string>();
  const ports = new Set<number>();
  const aliases = new Set<string>();
  let n = 0;
  const fresh = (taken: Set<string>, value: string, make: (k: string) => string) => {
    let candidate = value;
    while (taken.has(candidate)) candidate = make((n++).toString(36));
    taken.add(candidate);
    return candidate;
  };
  return clusters.map((c) => {
    let port = c.port;
    while (ports.has(port) || DEFAULT_RESERVED.has(port)) port = port >= 65535 ? 1024 : port + 1;
    ports.add(port);
    return {
      action: 'add',
      clusterId: fresh(
        ids,
        c.clusterId,
        (k) => `${c.clusterId.slice(0, 55).replace(/-+$/, '')}x${k}`,
      ),
      port,
      databases: c.databases.map((d) => ({
        alias: fresh(aliases, d.alias, (k) => `${d.alias.slice(0, 55)}_${k}`),
        dbname: d.dbname,
      })),
      options: c.options,
    };
  });
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}

function topologyOf(cluster: RegistryCluster, index: number): ClusterTopology {
  const octet = (n: number) => (index * 3 + n) % 250;
  return {
    clusterId: cluster.clusterId,
    status: 'available',
    engine: 'aurora-postgresql',
    observedAt: NOW.toISOString(),
    stale: false,
    members: ['writer-1', 'reader-1', 'reader-2'].map((instanceId, n) => ({
      instanceId,
      address: `10.${Math.floor(index / 250) % 250}.${octet(n)}.${n + 1}`,
      port: 5432,
      isWriter: n === 0,
      status: 'available',
      instanceClass: 'db.r6g.large',
      az: 'eu-west-1a',
    })),
  };
}

/** Lines that start a section (not indented, not a comment, not empty). */
function sectionHeaders(config: string): string[] {
  return config.split('\n').filter((line) => line !== '' && !/^[\s#]/.test(line));
}

describe('accepted admin values rendered into real configs', () => {
  it('every batch of accepted clusters passes haproxy -c with exactly its sections and aliases', async () => {
    // Prepare
    const requests = fc.sample(
      fc.oneof(
        { weight: 9, arbitrary: validAdd },
        { weight: 1, arbitrary: chaos.map((c) => ({ ...(c as object), action: 'add' })) },
      ),
      { numRuns: CASES, seed: SEED },
    );
    const accepted = await accept(requests);
    const distinct = await accept(uniquified(accepted));
    const groups = chunks(distinct, BATCH);

    // Act + Assess, one haproxy -c per batch
    for (const group of groups) {
      const topologies = new Map(group.map((c, i) => [c.clusterId, topologyOf(c, i)]));
      const bundle = renderBundle({ clusters: group, topologies }, NOW);

      const check = await haproxyCheck(bundle.files.haproxy);
      expect(check.ok, check.output).toBe(true);
      const unexpected = check.problems.filter((p) => !ACCEPTED_WARNINGS.some((w) => w.test(p)));
      expect(unexpected, check.output).toEqual([]);

      const ids = group.map((c) => c.clusterId).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      expect(sectionHeaders(bundle.files.haproxy)).toEqual([
        'global',
        'defaults',
        'resolvers aurora-dns',
        'listen stats',
        ...ids.map((id) => `listen ${backendName(id)}`),
      ]);
      const binds = bundle.files.haproxy.split('\n').filter((l) => /^\s+bind /.test(l));
      expect(binds).toHaveLength(1 + 2 * group.length);

      const pgbouncerLines = bundle.files.pgbouncerDatabases
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith(';'));
      const expected = group.flatMap((c) =>
        c.databases.map((d) => `${d.alias} = port=${c.port} dbname=${d.dbname}`),
      );
      expect(pgbouncerLines[0]).toBe('[databases]');
      // Sorted arrays, not Sets: vitest compares Sets pairwise (quadratic).
      expect(pgbouncerLines.slice(1).sort()).toEqual(expected.sort());
    }
    expect(accepted.length).toBeGreaterThan(CASES * 0.85);
    expect(distinct).toHaveLength(accepted.length);
    expect(groups).toHaveLength(Math.ceil(accepted.length / BATCH));
  });
});
