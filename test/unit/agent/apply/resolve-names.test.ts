import { describe, expect, it } from 'vitest';
import { resolveBundleNames } from '../../../../agent/apply/resolve';
import { rewriteServerState } from '../../../../agent/apply/server-state-rewrite';
import { bundleOf, cluster, liveRow, liveRowsFor } from './fixtures';

/**
 * The agent resolves the name of every server the bundle places, the writer endpoint's
 * members included: the writer (WRITER in the fixtures, by name here) sits only in the writer
 * listener, never among the readers.
 */
const registry = cluster({
  options: { writer: { alias: 'orders_rw', dbname: 'app', port: 15433 } },
});
const READER = { id: 'db-a', address: 'db-a.cx.us-east-1.rds.amazonaws.test', port: 5432 };
const WRITER_NAME = 'db-writer.cx.us-east-1.rds.amazonaws.test';
const ADDRESSES = new Map([
  [READER.address, '10.0.0.1'],
  [WRITER_NAME, '10.0.0.9'],
]);

function namedBundle() {
  // The fixture's writer has an IP: give it an endpoint name, as RDS does (a thawed copy).
  const bundle = structuredClone(bundleOf([READER], { registry }));
  for (const c of bundle.clusters) {
    for (const s of c.writer?.servers ?? []) {
      if (s.instanceId === 'db-writer') s.address = WRITER_NAME;
    }
  }
  return bundle;
}

describe('resolveBundleNames', () => {
  it("resolves the writer endpoint's members, not only the readers", async () => {
    // Prepare
    const bundle = namedBundle();
    const asked: string[] = [];
    const resolve = async (name: string) => {
      asked.push(name);
      const ip = ADDRESSES.get(name);
      if (!ip) throw new Error(`NXDOMAIN ${name}`);
      return ip;
    };
    // Act
    const resolved = await resolveBundleNames(bundle, resolve);
    // Assess
    expect([...asked].sort()).toEqual([READER.address, WRITER_NAME].sort());
    expect(resolved.get(WRITER_NAME)).toBe('10.0.0.9');
  });

  it("keeps the writer's row in the server-state file a reload loads", async () => {
    // Prepare: the live rows of the same bundle, every slot at its address
    const bundle = namedBundle();
    const resolved = await resolveBundleNames(bundle, async (name) => ADDRESSES.get(name) ?? '');
    const live = liveRowsFor(bundle).map((row) =>
      row.backend === 'aurora-orders_writer' && row.server === 'm02'
        ? { ...row, address: '10.0.0.9' }
        : row,
    );
    // Act
    const rewritten = rewriteServerState({
      dump: { version: '1', header: '', rows: live },
      previous: bundle,
      next: bundle,
      resolved,
    });
    // Assess: every writer-endpoint member slot of the bundle has its row
    const writerRows = rewritten.rows.filter((r) => r.backend === 'aurora-orders_writer');
    const members = bundle.clusters[0]?.writer?.servers.map((s) => s.name) ?? [];
    expect(members.length).toBeGreaterThan(1);
    for (const name of members) expect(writerRows.map((r) => r.server)).toContain(name);
  });

  it('keeps a row the agent could not resolve when the live worker follows that name', () => {
    // Prepare: the agent's lookup of every name failed just now (resolved is empty); the live
    // worker follows the writer's name (HAProxy resolved it), a reader slot follows no name
    const bundle = namedBundle();
    const writerSlot = bundle.clusters[0]?.writer?.servers.find((s) => s.address === WRITER_NAME);
    const readerSlot = bundle.clusters[0]?.servers.find((s) => s.address === READER.address);
    if (!writerSlot || !readerSlot) throw new Error('fixture: no named writer or reader slot');
    const live = [
      liveRow('aurora-orders_writer', {
        server: writerSlot.name,
        address: '10.0.0.9',
        port: writerSlot.port,
        fqdn: WRITER_NAME,
        op: 2,
        admin: 0,
      }),
      liveRow('aurora-orders', { server: readerSlot.name, address: '10.0.0.1', admin: 0 }),
    ];
    // Act
    const rewritten = rewriteServerState({
      dump: { version: '1', header: '', rows: live },
      previous: bundle,
      next: bundle,
      resolved: new Map(),
    });
    // Assess: the followed name keeps its live address and state; the other row is dropped
    expect(rewritten.rows.map((r) => `${r.backend}/${r.server} ${r.address}`)).toEqual([
      `aurora-orders_writer/${writerSlot.name} 10.0.0.9`,
    ]);
    expect(rewritten.rows[0]?.opState).toBe(2);
  });
});
