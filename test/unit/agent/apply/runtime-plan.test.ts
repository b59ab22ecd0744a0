import { describe, expect, it } from 'vitest';
import {
  backendsLosingServers,
  planRuntimeCommands,
  RuntimePlanError,
} from '../../../../agent/apply/runtime-plan';
import { formatRuntimeCommand } from '../../../../agent/haproxy/runtime-api';
import { bundleOf, liveRow, liveRowsFor } from './fixtures';

const A = { id: 'db-a', address: '10.0.0.1', port: 5432 };
const B = { id: 'db-b', address: '10.0.0.2', port: 5432 };
const C = { id: 'db-c', address: '10.0.0.3', port: 5432 };
const BE = 'aurora-orders';
const noNames = new Map<string, string>();

const lines = (plan: ReturnType<typeof planRuntimeCommands>) =>
  plan.commands.map(formatRuntimeCommand);
const secondPhase = (plan: ReturnType<typeof planRuntimeCommands>) =>
  plan.afterDrain.map(formatRuntimeCommand);

describe('planRuntimeCommands', () => {
  it('fills a spare slot for an added reader: addr, weight, then drain, health down, ready (rise fresh checks before UP)', () => {
    // Prepare
    const previous = bundleOf([A]);
    const next = bundleOf([A, B], { previous });
    // Act
    const commands = planRuntimeCommands({
      previous,
      next,
      live: liveRowsFor(previous),
      resolved: noNames,
    });
    // Assess
    expect(lines(commands)).toEqual([
      `set server ${BE}/r02 addr 10.0.0.2 port 5432`,
      `set server ${BE}/r02 weight 100`,
      `set server ${BE}/r02 state drain`,
      `set server ${BE}/r02 health down`,
      `set server ${BE}/r02 state ready`,
    ]);
  });

  it('drains the slot of a removed reader, maint once drained (sessions are not killed)', () => {
    // Prepare
    const previous = bundleOf([A, B]);
    const next = bundleOf([A], { previous });
    // Act
    const commands = planRuntimeCommands({
      previous,
      next,
      live: liveRowsFor(previous),
      resolved: noNames,
    });
    // Assess
    expect(lines(commands)).toEqual([`set server ${BE}/r02 state drain`]);
    expect(commands.drained).toEqual([{ backend: BE, server: 'r02' }]);
    expect(secondPhase(commands)).toEqual([`set server ${BE}/r02 state maint`]);
  });

  it('forces an UP re-addressed slot to stopping before its address changes (no new connection until a check at the new address passes; sessions kept)', () => {
    // Prepare: B leaves, C arrives; the renderer gives C the lowest free slot (B's)
    const previous = bundleOf([A, B]);
    const next = bundleOf([A, C], { previous });
    expect(next.clusters[0]?.servers.find((s) => s.instanceId === 'db-c')?.name).toBe('r02');
    // Act
    const plan = planRuntimeCommands({
      previous,
      next,
      live: liveRowsFor(previous),
      resolved: noNames,
    });
    // Assess
    expect(lines(plan)).toEqual([
      `set server ${BE}/r02 health stopping`,
      `set server ${BE}/r02 addr 10.0.0.3 port 5432`,
      `set server ${BE}/r02 weight 100`,
      `set server ${BE}/r02 state ready`,
    ]);
    expect(plan.drained).toEqual([]);
  });

  it('forces a DOWN re-addressed slot down again (rise checks), never to stopping (that would raise it)', () => {
    // Prepare: r02 is DOWN (its server failed) when C takes the slot
    const previous = bundleOf([A, B]);
    const next = bundleOf([A, C], { previous });
    const live = liveRowsFor(previous).map((row) =>
      row.server === 'r02' ? { ...row, opState: 0 } : row,
    );
    // Act
    const plan = planRuntimeCommands({ previous, next, live, resolved: noNames });
    // Assess
    expect(lines(plan)[0]).toBe(`set server ${BE}/r02 health down`);
    expect(lines(plan)).not.toContain(`set server ${BE}/r02 health stopping`);
  });

  it('sets only the weight when a reader stays and its weight changes', () => {
    // Prepare
    const previous = bundleOf([A]);
    const next = structuredClone(previous);
    const server = next.clusters[0]?.servers.find((s) => s.name === 'r01');
    if (server) server.weight = 50;
    // Act
    const commands = planRuntimeCommands({
      previous,
      next,
      live: liveRowsFor(previous),
      resolved: noNames,
    });
    // Assess
    expect(lines(commands)).toEqual([`set server ${BE}/r01 weight 50`]);
  });

  it('is empty when live already matches (idempotent re-run)', () => {
    // Prepare
    const previous = bundleOf([A]);
    const next = bundleOf([A, B], { previous });
    // Act
    const commands = planRuntimeCommands({
      previous: next,
      next,
      live: liveRowsFor(next),
      resolved: noNames,
    });
    // Assess
    expect(commands).toEqual({ commands: [], drained: [], afterDrain: [] });
  });

  it('brings back a staying reader that an interrupted apply left in maint', () => {
    // Prepare
    const bundle = bundleOf([A, B]);
    const live = liveRowsFor(bundle).map((row) =>
      row.server === 'r02' ? liveRow(BE, { server: 'r02', ...B, admin: 1 }) : row,
    );
    // Act
    const commands = planRuntimeCommands({
      previous: bundle,
      next: bundle,
      live,
      resolved: noNames,
    });
    // Assess
    expect(lines(commands)).toEqual([
      `set server ${BE}/r02 weight 100`,
      `set server ${BE}/r02 state drain`,
      `set server ${BE}/r02 health down`,
      `set server ${BE}/r02 state ready`,
    ]);
  });

  it('puts fills before frees so capacity never dips', () => {
    // Prepare: A leaves r01 while C arrives in the spare r03 (same structure)
    const previous = bundleOf([A, B]);
    const next = structuredClone(previous);
    const servers = next.clusters[0]?.servers ?? [];
    const a = servers.findIndex((s) => s.instanceId === 'db-a');
    servers.splice(a, 1, {
      ...(servers[a] as (typeof servers)[0]),
      name: 'r03',
      instanceId: 'db-c',
      address: C.address,
    });
    // Act
    const plan = planRuntimeCommands({
      previous,
      next,
      live: liveRowsFor(previous),
      resolved: noNames,
    });
    const out = lines(plan);
    // Assess
    expect(out).toEqual([
      `set server ${BE}/r03 addr 10.0.0.3 port 5432`,
      `set server ${BE}/r03 weight 100`,
      `set server ${BE}/r03 state drain`,
      `set server ${BE}/r03 health down`,
      `set server ${BE}/r03 state ready`,
      `set server ${BE}/r01 state drain`,
    ]);
    expect(secondPhase(plan)).toEqual([`set server ${BE}/r01 state maint`]);
  });

  it('re-addresses a slot already in maint without taking it out of maint at the old address', () => {
    // Prepare: r02 was left in forced maint at B's address; C now goes there
    const previous = bundleOf([A, B]);
    const next = bundleOf([A, C], { previous });
    const live = liveRowsFor(previous).map((row) =>
      row.server === 'r02' ? liveRow(BE, { server: 'r02', ...B, admin: 1 }) : row,
    );
    // Act
    const plan = planRuntimeCommands({ previous, next, live, resolved: noNames });
    // Assess
    expect(lines(plan)).toEqual([
      `set server ${BE}/r02 addr 10.0.0.3 port 5432`,
      `set server ${BE}/r02 weight 100`,
      `set server ${BE}/r02 state drain`,
      `set server ${BE}/r02 health down`,
      `set server ${BE}/r02 state ready`,
    ]);
    expect(plan.drained).toEqual([]);
  });

  it('resolves DNS names to an IP for addr and keeps the name with fqdn once out of maint', () => {
    // Prepare
    const previous = bundleOf([A]);
    const next = bundleOf(
      [A, { id: 'db-d', address: 'db-d.abc.eu-west-1.rds.amazonaws.com', port: 5432 }],
      {
        previous,
      },
    );
    // Act
    const commands = planRuntimeCommands({
      previous,
      next,
      live: liveRowsFor(previous),
      resolved: new Map([['db-d.abc.eu-west-1.rds.amazonaws.com', '10.1.2.3']]),
    });
    // Assess
    expect(lines(commands)).toEqual([
      `set server ${BE}/r02 addr 10.1.2.3 port 5432`,
      `set server ${BE}/r02 weight 100`,
      `set server ${BE}/r02 state drain`,
      `set server ${BE}/r02 fqdn db-d.abc.eu-west-1.rds.amazonaws.com`,
      `set server ${BE}/r02 health down`,
      `set server ${BE}/r02 state ready`,
    ]);
  });

  it('leaves a slot alone when HAProxy already follows its name at the resolved address', () => {
    // Prepare
    const name = 'db-d.abc.eu-west-1.rds.amazonaws.com';
    const D = { id: 'db-d', address: name, port: 5432 };
    const previous = bundleOf([A, D]);
    const next = bundleOf([A, D], { previous });
    const live = [
      liveRow(BE, { server: 'r01', address: '10.0.0.1', admin: 0 }, 1),
      liveRow(BE, { server: 'r02', address: '10.1.2.9', admin: 0, fqdn: name }, 2),
      ...liveRowsFor(previous).slice(2),
    ];
    // Act
    const plan = planRuntimeCommands({
      previous,
      next,
      live,
      resolved: new Map([[name, '10.1.2.9']]),
    });
    // Assess
    expect(lines(plan)).toEqual([]);
  });

  it('re-addresses a slot that follows another name, even at the same address and port', () => {
    // Prepare
    const name = 'db-d.abc.eu-west-1.rds.amazonaws.com';
    const previous = bundleOf([
      A,
      { id: 'db-c', address: 'db-c.abc.eu-west-1.rds.amazonaws.com', port: 5432 },
    ]);
    const next = bundleOf([A, { id: 'db-d', address: name, port: 5432 }], { previous });
    const live = [
      liveRow(BE, { server: 'r01', address: '10.0.0.1', admin: 0 }, 1),
      liveRow(
        BE,
        {
          server: 'r02',
          address: '10.1.2.9',
          admin: 0,
          fqdn: 'db-c.abc.eu-west-1.rds.amazonaws.com',
        },
        2,
      ),
      ...liveRowsFor(previous).slice(2),
    ];
    // Act
    const plan = planRuntimeCommands({
      previous,
      next,
      live,
      resolved: new Map([[name, '10.1.2.9']]),
    });
    // Assess
    expect(lines(plan)).toEqual([
      `set server ${BE}/r02 health stopping`,
      `set server ${BE}/r02 addr 10.1.2.9 port 5432`,
      `set server ${BE}/r02 fqdn ${name}`,
      `set server ${BE}/r02 weight 100`,
      `set server ${BE}/r02 state ready`,
    ]);
  });

  it('refuses (so the caller reloads) when a slot is missing from the live HAProxy', () => {
    // Prepare
    const previous = bundleOf([A]);
    const next = bundleOf([A, B], { previous });
    const live = liveRowsFor(previous).filter((row) => row.server !== 'r04');
    // Act / Assess
    expect(() => planRuntimeCommands({ previous, next, live, resolved: noNames })).toThrow(
      RuntimePlanError,
    );
  });

  it('refuses an unresolved DNS name', () => {
    // Prepare
    const previous = bundleOf([A]);
    const next = bundleOf([A, { id: 'db-d', address: 'db-d.example.com', port: 5432 }], {
      previous,
    });
    // Act / Assess
    expect(() =>
      planRuntimeCommands({ previous, next, live: liveRowsFor(previous), resolved: noNames }),
    ).toThrow(/not resolved/);
  });

  it('names the backends that lose or move a server (their PgBouncer pools reconnect)', () => {
    // Prepare
    const one = bundleOf([A]);
    const two = bundleOf([A, B], { previous: one });
    // Act
    const adding = backendsLosingServers(one, two);
    const removing = backendsLosingServers(two, one);
    const replacing = backendsLosingServers(two, bundleOf([A, C], { previous: two }));
    // Assess
    expect([...adding]).toEqual([]);
    expect([...removing]).toEqual([BE]);
    expect([...replacing]).toEqual([BE]);
  });
});
