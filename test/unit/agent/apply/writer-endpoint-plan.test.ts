import { describe, expect, it } from 'vitest';
import { backendsLosingServers, planRuntimeCommands } from '../../../../agent/apply/runtime-plan';
import { rewriteServerState } from '../../../../agent/apply/server-state-rewrite';
import { formatRuntimeCommand } from '../../../../agent/haproxy/runtime-api';
import { expectedDatabases } from '../../../../agent/pgbouncer/verify-databases';
import { candidatesOf } from '../../../../agent/state/pending-slots';
import { bundleOf, cluster, liveRowsFor } from './fixtures';

/** Apply with a writer endpoint: its listener's slots follow membership like the readers'. */
const A = { id: 'db-a', address: '10.0.0.1', port: 5432 };
const B = { id: 'db-b', address: '10.0.0.2', port: 5432 };
const registry = cluster({
  options: { writer: { alias: 'orders_rw', dbname: 'app', port: 15433 } },
});
const WB = 'aurora-orders_writer';

describe('apply with a writer endpoint', () => {
  it('fills a new member in both listeners, through drain, health down and ready', () => {
    // Prepare
    const previous = bundleOf([A], { registry });
    const next = bundleOf([A, B], { previous, registry });

    // Act
    const plan = planRuntimeCommands({
      previous,
      next,
      live: liveRowsFor(previous),
      resolved: new Map(),
    });

    // Assess: the writer endpoint's slots are m01 db-a, m02 db-b, m03 db-writer (kept)
    expect(next.clusters[0]?.writer?.servers.map((s) => `${s.name} ${s.instanceId}`)).toEqual([
      'm01 db-a',
      'm02 db-writer',
      'm03 db-b',
    ]);
    expect(plan.commands.map(formatRuntimeCommand)).toEqual([
      'set server aurora-orders/r02 addr 10.0.0.2 port 5432',
      'set server aurora-orders/r02 weight 100',
      'set server aurora-orders/r02 state drain',
      'set server aurora-orders/r02 health down',
      'set server aurora-orders/r02 state ready',
      `set server ${WB}/m03 addr 10.0.0.2 port 5432`,
      `set server ${WB}/m03 weight 100`,
      `set server ${WB}/m03 state drain`,
      `set server ${WB}/m03 health down`,
      `set server ${WB}/m03 state ready`,
    ]);
  });

  it("drains a leaving member's writer slot and RECONNECTs the writer alias too", () => {
    // Prepare
    const previous = bundleOf([A, B], { registry });
    const next = bundleOf([A], { previous, registry });

    // Act
    const plan = planRuntimeCommands({
      previous,
      next,
      live: liveRowsFor(previous),
      resolved: new Map(),
    });
    const losing = backendsLosingServers(previous, next);

    // Assess
    expect(plan.drained).toEqual([
      { backend: 'aurora-orders', server: 'r02' },
      { backend: WB, server: 'm02' },
    ]);
    expect([...losing].sort()).toEqual(['aurora-orders', WB]);
  });

  it('a failover alone (roles swap) changes nothing in HAProxy: the daemon moves the writer', () => {
    // Prepare
    const previous = bundleOf([A], { registry });
    const next = bundleOf([{ ...A, writer: true }], {
      previous,
      registry,
    });

    // Act
    const plan = planRuntimeCommands({
      previous,
      next,
      live: liveRowsFor(previous),
      resolved: new Map(),
    });

    // Assess: RDS now names db-a writer too (the fixture keeps its writer): roles changed,
    // addresses did not, so no command touches the writer endpoint's slots
    expect(plan.commands.map(formatRuntimeCommand).filter((c) => c.includes(WB))).toEqual([]);
  });

  it('the pending slot map, the server-state rewrite and PgBouncer checks cover the writer endpoint', () => {
    // Prepare
    const previous = bundleOf([A], { registry });
    const next = bundleOf([A, B], { previous, registry });

    // Act
    const candidates = candidatesOf(next).filter((c) => c.backend === WB);
    const rows = rewriteServerState({
      dump: { version: '1', header: '# be_id ...', rows: liveRowsFor(previous) },
      previous,
      next,
      resolved: new Map(),
    }).rows.filter((r) => r.backend === WB);
    const databases = expectedDatabases(next);

    // Assess
    expect(candidates.map((c) => `${c.slot} ${c.role} ${c.rdsWriter}`)).toEqual([
      'm01 member false',
      'm02 member true',
      'm03 member false',
    ]);
    expect(rows.find((r) => r.server === 'm03')?.address).toBe('10.0.0.2');
    expect(databases).toEqual([
      { alias: 'orders', port: 15432, dbname: 'app' },
      { alias: 'orders_rw', port: 15433, dbname: 'app' },
    ]);
  });
});
