import { describe, expect, it } from 'vitest';
import { rewriteServerState } from '../../../../agent/apply/server-state-rewrite';
import {
  formatServersState,
  parseServersState,
  type ServersStateDump,
} from '../../../../agent/haproxy/servers-state';
import { bundleOf, cluster, liveRow, liveRowsFor } from './fixtures';

const A = { id: 'db-a', address: '10.0.0.1', port: 5432 };
const B = { id: 'db-b', address: '10.0.0.2', port: 5432 };
const BE = 'aurora-orders';
const HEADER = '# be_id be_name srv_id srv_name srv_addr ...';
const dumpOf = (rows: ServersStateDump['rows']): ServersStateDump => ({
  version: '1',
  header: HEADER,
  rows,
});
const row = (dump: ServersStateDump, server: string) => dump.rows.find((r) => r.server === server);

describe('rewriteServerState', () => {
  it('keeps the health of a reader that stays at the same address', () => {
    // Prepare: structural change (port) with A staying in r01, DOWN per checks
    const previous = bundleOf([A]);
    const next = bundleOf([A], { registry: cluster({ port: 16000 }), previous });
    const live = liveRowsFor(previous).map((r) =>
      r.server === 'r01' ? liveRow(BE, { server: 'r01', ...A, admin: 0, op: 0 }) : r,
    );
    // Act
    const out = rewriteServerState({ dump: dumpOf(live), previous, next, resolved: new Map() });
    // Assess
    expect(row(out, 'r01')).toMatchObject({ opState: 0, adminState: 0, port: 5432 });
  });

  it('marks a new or re-addressed slot DOWN with the new port, so no read reaches it unchecked', () => {
    // Prepare: B arrives in r02 (a spare in the live dump at the placeholder port)
    const previous = bundleOf([A]);
    const next = bundleOf([A, B], { registry: cluster({ port: 16000 }), previous });
    // Act
    const out = rewriteServerState({
      dump: dumpOf(liveRowsFor(previous)),
      previous,
      next,
      resolved: new Map(),
    });
    // Assess
    expect(row(out, 'r02')).toMatchObject({
      address: '10.0.0.2',
      port: 5432,
      opState: 0,
      adminState: 0,
      userWeight: 100,
    });
    expect(row(out, 'r02')?.fields[12]).toBe('0'); // check health 0: rise checks needed
  });

  it('leaves emptied slots disabled and drops backends the next bundle does not have', () => {
    // Prepare
    const previous = bundleOf([A, B]);
    const next = bundleOf([A], { previous });
    const stray = liveRow('aurora-gone', { server: 'r01', ...A, admin: 0 });
    // Act
    const out = rewriteServerState({
      dump: dumpOf([...liveRowsFor(previous), stray]),
      previous,
      next,
      resolved: new Map(),
    });
    // Assess
    expect(row(out, 'r02')?.adminState).toBe(5);
    expect(out.rows.some((r) => r.backend === 'aurora-gone')).toBe(false);
    expect(out.rows).toHaveLength(4);
  });

  it('round-trips through the file format HAProxy loads', () => {
    // Prepare
    const bundle = bundleOf([A]);
    const dump = dumpOf(liveRowsFor(bundle));
    // Act
    const text = formatServersState(
      rewriteServerState({ dump, previous: bundle, next: bundle, resolved: new Map() }),
    );
    // Assess
    expect(parseServersState(text).rows.map((r) => r.fields)).toEqual(
      dump.rows.map((r) => r.fields),
    );
  });
});
