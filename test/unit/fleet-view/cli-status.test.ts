import { RDSClient } from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { type AdminDeps, runAdmin } from '../../../functions/admin/admin';
import { runCli } from '../../../functions/cli/main';
import { fleetViewReader } from '../../../functions/fleet-view/read';
import type { StoredHostReport } from '../../../functions/fleet-view/store';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { silentLog } from '../../../functions/shared/observability';
import { FakeRegistry } from '../admin/fake-registry';
import { report, slot } from '../report/fixtures';

const NOW = 50_000_000;
const H1 = 'i-0000000000000000a';

function harness(reports: () => Promise<StoredHostReport[]>) {
  const registry = new FakeRegistry();
  const deps: AdminDeps = {
    registry,
    rds: new RDSClient({}),
    triggerReconcile: async () => {},
    readStatus: async () => ({ desired: null }),
    reservedPorts: DEFAULT_RESERVED,
    log: silentLog,
    readFleetView: fleetViewReader({ list: reports }, 30_000, () => NOW),
  };
  const out = { stdout: '', stderr: '' };
  const sleeps: number[] = [];
  const run = async (...argv: string[]) => {
    out.stdout = '';
    out.stderr = '';
    return runCli(argv, {
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
      env: {},
      admin: (request) => runAdmin(request, deps),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
  };
  return { registry, deps, out, run, sleeps };
}

const hostReport = (): StoredHostReport => ({
  instanceId: H1,
  report: report({
    reportedAt: NOW - 1000,
    clusters: [
      {
        clusterId: 'orders',
        backend: 'aurora-orders',
        slots: [
          slot(),
          slot({ slot: 'r02', instanceId: 'orders-2', state: 'DOWN', reason: 'is the writer' }),
        ],
      },
    ],
  }),
});

describe('clusters status with the hosts view', () => {
  it('prints the readers x hosts matrix with reasons after the status', async () => {
    // Prepare
    const { run, out } = harness(async () => [hostReport()]);
    // Act
    const code = await run('clusters', 'status');
    // Assess
    expect(code).toBe(0);
    expect(out.stdout).toMatch(/cluster orders \(not registered\): reader UP on 1\/1 hosts/);
    expect(out.stdout).toMatch(/orders-2 on h1: DOWN: is the writer/);
    expect(out.stdout).toMatch(/^desired: -/m);
  });

  it('answers the view as JSON, for one cluster', async () => {
    const { run, out } = harness(async () => [hostReport()]);
    expect(await run('--json', 'clusters', 'status', 'orders')).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(result.view.clusters.map((c: { clusterId: string }) => c.clusterId)).toEqual(['orders']);
    expect(result.view.hosts[0]).toMatchObject({ instanceId: H1, stale: false });
  });

  it('refuses an unknown cluster (CLUSTER_NOT_FOUND) and a malformed id (validation)', async () => {
    const { run, out } = harness(async () => [hostReport()]);
    expect(await run('clusters', 'status', 'billing')).toBe(1);
    expect(out.stderr).toMatch(/CLUSTER_NOT_FOUND/);
    expect(await run('clusters', 'status', 'bad id!')).toBe(1);
    expect(out.stderr).toMatch(/VALIDATION_FAILED/);
  });

  it('keeps the status when the reports table fails, saying why', async () => {
    const { run, out } = harness(async () => {
      throw new Error('ResourceNotFoundException: no table');
    });
    expect(await run('clusters', 'status')).toBe(0);
    expect(out.stdout).toMatch(/host reports unavailable: ResourceNotFoundException/);
  });

  it('--watch refreshes in place (clear screen each time) at the interval, --count times', async () => {
    // Prepare
    let calls = 0;
    const { run, out, sleeps } = harness(async () => {
      calls++;
      return [hostReport()];
    });
    // Act
    const code = await run(
      'clusters',
      'status',
      'orders',
      '--watch',
      '--interval',
      '3',
      '--count',
      '3',
    );
    // Assess
    expect(code).toBe(0);
    expect(calls).toBe(3);
    expect(sleeps).toEqual([3000, 3000]);
    expect(out.stdout.split('\x1b[H\x1b[2J')).toHaveLength(4);
    // One cluster: its matrix only, not the fleet-wide status
    expect(out.stdout).not.toMatch(/^desired:/m);
  });

  it('--watch refuses a bad interval with a usage error', async () => {
    const { run, out } = harness(async () => []);
    expect(await run('clusters', 'status', '--watch', '--interval', '0')).toBe(2);
    expect(out.stderr).toMatch(/--interval/);
  });
});
