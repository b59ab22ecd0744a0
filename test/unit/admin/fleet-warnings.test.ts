import { describe, expect, it } from 'vitest';
import { type AdminDeps, runAdmin } from '../../../functions/admin/admin';
import { fleetWarnings } from '../../../functions/admin/fleet-warnings';
import type { HostView } from '../../../functions/fleet-view/view';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { silentLog } from '../../../functions/shared/observability';
import { registryCluster } from '../render/fixtures';
import { FakeRegistry } from './fake-registry';

function host(instanceId: string, pgbouncerVersion: string | null): HostView {
  return {
    instanceId,
    stale: false,
    reportedAt: '2026-12-02T10:00:00.000Z',
    ageMs: 1000,
    appliedSha256: null,
    haproxyVersion: '3.0.11',
    pgbouncerVersion,
    pools: null,
    problems: [],
  };
}

const PREPARED = { poolMode: 'transaction' as const, maxPreparedStatements: 200 };

describe('fleetWarnings', () => {
  it('lists the hosts whose PgBouncer is older than prepared statements need, or unknown', () => {
    // Act
    const warnings = fleetWarnings(registryCluster('orders', 6000, PREPARED), [
      host('i-0aa', '1.24.1'),
      host('i-0bb', '1.18.0'),
      host('i-0cc', null),
      host('i-0dd', '1.21.0'),
    ]);
    // Assess
    expect(warnings).toEqual([
      'options.maxPreparedStatements needs PgBouncer >= 1.21; 2 of 4 hosts run an older or unknown one and will refuse every bundle until replaced (Debian 13 hosts have 1.24): i-0bb (1.18.0), i-0cc (version unknown)',
    ]);
  });

  it('warns about nothing when every host can serve it, or the options need nothing', () => {
    // Act + Assess
    expect(fleetWarnings(registryCluster('o', 6000, PREPARED), [host('i-1', '1.24.1')])).toEqual(
      [],
    );
    expect(
      fleetWarnings(registryCluster('o', 6000, { poolMode: 'transaction' }), [host('i-1', '1.18')]),
    ).toEqual([]);
  });
});

describe('admin add/update warn about the fleet', () => {
  function deps(hosts: HostView[] | Error): AdminDeps {
    return {
      registry: new FakeRegistry(),
      rds: undefined as never,
      triggerReconcile: async () => {},
      readStatus: async () => ({}),
      readFleetView: async () => {
        if (hosts instanceof Error) throw hosts;
        return { generatedAt: '', staleAfterMs: 30_000, hosts, staleHosts: [], clusters: [] };
      },
      reservedPorts: DEFAULT_RESERVED,
      log: silentLog,
    };
  }
  const request = {
    action: 'add',
    clusterId: 'orders',
    port: 6000,
    force: true,
    databases: [{ alias: 'orders', dbname: 'app' }],
    options: PREPARED,
  };

  it('stores the change and answers the warning when a Debian 12 host (PgBouncer 1.18) reports', async () => {
    // Act
    const result = await runAdmin(request, deps([host('i-0bb', '1.18.0')]));
    // Assess
    expect(result.ok).toBe(true);
    if (!result.ok || result.action !== 'add') throw new Error('not added');
    expect(result.cluster.options.maxPreparedStatements).toBe(200);
    expect(result.warnings?.[0]).toMatch(
      /needs PgBouncer >= 1\.21; 1 of 1 hosts .*i-0bb \(1\.18\.0\)/,
    );
  });

  it('has no warnings key when the fleet can serve it, and says so when the reports cannot be read', async () => {
    // Act
    const served = await runAdmin(request, deps([host('i-0aa', '1.24.1')]));
    const unreadable = await runAdmin(request, deps(new Error('table gone')));
    // Assess
    expect(served.ok && 'warnings' in served).toBe(false);
    expect(served.ok).toBe(true);
    expect(unreadable.ok).toBe(true);
    if (!unreadable.ok || unreadable.action !== 'add') throw new Error('not added');
    expect(unreadable.warnings).toEqual([
      "could not check the hosts' PgBouncer versions: table gone",
    ]);
  });
});
