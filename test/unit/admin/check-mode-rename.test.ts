import { parseBundle } from '@aurora-haproxy/contract/bundle';
import { bundleCheckMode, CHECK_MODES, isTcpCheckMode } from '@aurora-haproxy/contract/registry';
import { describe, expect, it } from 'vitest';
import { type AdminDeps, runAdmin } from '../../../functions/admin/admin';
import { withCurrentNames } from '../../../functions/admin/deprecations';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { renderBundle } from '../../../functions/render/render-bundle';
import { forgetRenderedClusters } from '../../../functions/render/sections';
import { silentLog } from '../../../functions/shared/observability';
import {
  clusterMembers,
  FIXED_NOW,
  registryCluster,
  topologies,
  topology,
} from '../render/fixtures';
import { FakeRegistry } from './fake-registry';

/**
 * `checkMode: 'agent'` was renamed `tcp-check` (it is a tcp-check to the host daemon, not
 * HAProxy's agent-check). For one release the old name is taken at the admin API (stored as
 * the new one, with a warning) and bundles keep carrying `agent`, so hosts still running the
 * previous agent accept them.
 */
function deps(registry: FakeRegistry): AdminDeps {
  return {
    registry,
    rds: undefined as never,
    triggerReconcile: async () => {},
    readStatus: async () => ({}),
    reservedPorts: DEFAULT_RESERVED,
    log: silentLog,
  };
}

const add = (checkMode: string) => ({
  action: 'add',
  clusterId: 'orders',
  port: 6000,
  force: true,
  databases: [{ alias: 'orders', dbname: 'app' }],
  options: { checkMode },
});

describe('checkMode rename: agent -> tcp-check', () => {
  it('stores the old name as tcp-check and warns naming both', async () => {
    // Prepare
    const registry = new FakeRegistry();
    // Act
    const result = await runAdmin(add('agent'), deps(registry));
    // Assess
    if (!result.ok || result.action !== 'add') throw new Error(JSON.stringify(result));
    expect(result.cluster.options.checkMode).toBe('tcp-check');
    expect((await registry.get('orders'))?.options.checkMode).toBe('tcp-check');
    expect(result.warnings).toEqual([
      expect.stringMatching(/"agent" is the old name of "tcp-check"/),
    ]);
  });

  it('takes the current names without a warning, and an update with the old name likewise', async () => {
    // Prepare
    const registry = new FakeRegistry();
    // Act
    const current = await runAdmin(add('tcp-check'), deps(registry));
    const updated = await runAdmin(
      { action: 'update', clusterId: 'orders', version: 1, options: { checkMode: 'agent' } },
      deps(registry),
    );
    // Assess
    expect(current.ok && 'warnings' in current).toBe(false);
    if (!updated.ok || updated.action !== 'update') throw new Error(JSON.stringify(updated));
    expect(updated.cluster.options.checkMode).toBe('tcp-check');
    expect(updated.warnings).toHaveLength(1);
    expect(withCurrentNames({ options: { checkMode: 'external' as const } }).warnings).toEqual([]);
    expect(withCurrentNames({}).warnings).toEqual([]);
  });

  it('refuses a check mode that is neither name, naming the field', async () => {
    // Act
    const result = await runAdmin(add('agent-check'), deps(new FakeRegistry()));
    // Assess
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).toMatch(/checkMode/);
  });

  it('renders tcp-check and agent to the same bundle, which carries agent on the wire', () => {
    // Prepare
    const tops = topologies(topology('orders', clusterMembers(0, 2)));
    const render = (checkMode: (typeof CHECK_MODES)[number]) => {
      forgetRenderedClusters();
      return renderBundle(
        { clusters: [registryCluster('orders', 6000, { checkMode })], topologies: tops },
        FIXED_NOW,
      );
    };
    // Act
    const renamed = render('tcp-check');
    const old = render('agent');
    const external = render('external');
    // Assess
    expect(renamed.sha256).toBe(old.sha256);
    expect(renamed.files).toEqual(old.files);
    expect(renamed.clusters[0]?.options.checkMode).toBe('agent');
    expect(parseBundle(JSON.stringify(renamed)).sha256).toBe(renamed.sha256);
    expect(external.sha256).not.toBe(renamed.sha256);
    expect(CHECK_MODES.map(bundleCheckMode)).toEqual(['agent', 'external', 'agent']);
    expect(CHECK_MODES.map(isTcpCheckMode)).toEqual([true, false, true]);
  });
});
