import { azBackendName, isPreferredOnHost } from '@aurora-haproxy/contract/az-affinity';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { describe, expect, it } from 'vitest';
import { planRuntimeCommands, RuntimePlanError } from '../../../../agent/apply/runtime-plan';
import { formatRuntimeCommand } from '../../../../agent/haproxy/runtime-api';
import type { ServerStateRow } from '../../../../agent/haproxy/servers-state';
import { bundleOf, cluster, liveRow, liveRowsFor, type Member } from './fixtures';

const A1 = { id: 'db-a1', address: '10.0.0.1', port: 5432, az: 'eu-west-1a' };
const A2 = { id: 'db-a2', address: '10.0.0.2', port: 5432, az: 'eu-west-1a' };
const B1 = { id: 'db-b1', address: '10.0.0.3', port: 5432, az: 'eu-west-1b' };
const BE = 'aurora-orders';
const AZ = azBackendName(BE);
const HOST_AZ = 'eu-west-1a';
const noNames = new Map<string, string>();
const zoned = cluster({ options: { azAffinity: true } });

function zonedBundle(members: Member[], previous?: Bundle): Bundle {
  return bundleOf(members, { registry: zoned, previous });
}

/** Reader slots and in-zone slots as the runtime API leaves them on a host of `hostAz`. */
function liveFor(bundle: Bundle, hostAz = HOST_AZ): ServerStateRow[] {
  const rows = liveRowsFor(bundle);
  for (const c of bundle.clusters) {
    for (let i = 1; i <= c.readerSlots; i++) {
      const name = `r${String(i).padStart(2, '0')}`;
      const s = c.servers.find((x) => x.name === name);
      const admin = s && isPreferredOnHost(c, s, hostAz) ? 0 : 5;
      rows.push(
        liveRow(
          azBackendName(c.backend),
          s
            ? { server: name, address: s.address, port: s.port, admin, weight: s.weight }
            : { server: name },
          i,
        ),
      );
    }
  }
  return rows;
}

function plan(previous: Bundle, next: Bundle, live = liveFor(previous), hostAz = HOST_AZ) {
  const result = planRuntimeCommands({ previous, next, live, resolved: noNames, hostAz });
  return {
    now: result.commands.map(formatRuntimeCommand),
    drained: result.drained,
    after: result.afterDrain.map(formatRuntimeCommand),
  };
}

describe('planRuntimeCommands with azAffinity (in-zone backend)', () => {
  it('changes nothing when the live in-zone slots already match', () => {
    // Prepare
    const bundle = zonedBundle([A1, B1]);
    // Act
    const result = plan(bundle, bundle);
    // Assess
    expect(result).toEqual({ now: [], drained: [], after: [] });
  });

  it('fills an in-zone slot for an added in-zone reader, and readies it only after its reader slot', () => {
    // Prepare
    const previous = zonedBundle([A1]);
    const next = zonedBundle([A1, A2], previous);
    // Act
    const { now } = plan(previous, next);
    // Assess
    expect(now).toEqual([
      `set server ${AZ}/r02 addr 10.0.0.2 port 5432`,
      `set server ${AZ}/r02 weight 100`,
      `set server ${BE}/r02 addr 10.0.0.2 port 5432`,
      `set server ${BE}/r02 weight 100`,
      `set server ${BE}/r02 state drain`,
      `set server ${BE}/r02 health down`,
      `set server ${BE}/r02 state ready`,
      `set server ${AZ}/r02 state ready`,
    ]);
  });

  it('addresses but never readies the in-zone slot of a reader in another zone', () => {
    // Prepare
    const previous = zonedBundle([A1]);
    const next = zonedBundle([A1, B1], previous);
    // Act
    const { now } = plan(previous, next);
    // Assess
    expect(now.filter((c) => c.includes(`${AZ}/`))).toEqual([
      `set server ${AZ}/r02 addr 10.0.0.3 port 5432`,
      `set server ${AZ}/r02 weight 100`,
    ]);
  });

  it('drains the in-zone slot of a removed reader with its reader slot, maint only after the drain wait', () => {
    // Prepare
    const previous = zonedBundle([A1, A2]);
    const next = zonedBundle([A1], previous);
    // Act
    const result = plan(previous, next);
    // Assess
    expect(result.now).toEqual([
      `set server ${AZ}/r02 state drain`,
      `set server ${BE}/r02 state drain`,
    ]);
    expect(result.drained).toEqual([
      { backend: AZ, server: 'r02' },
      { backend: BE, server: 'r02' },
    ]);
    expect(result.after).toEqual([
      `set server ${AZ}/r02 state maint`,
      `set server ${BE}/r02 state maint`,
    ]);
  });

  it('drains (never maint: its sessions stay) an in-zone slot re-addressed to a reader of another zone', () => {
    // Prepare: A2 leaves, B1 takes its slot
    const previous = zonedBundle([A1, A2]);
    const next = zonedBundle([A1, B1], previous);
    // Act
    const { now, after } = plan(previous, next);
    // Assess
    expect(now.filter((c) => c.includes(`${AZ}/`))).toEqual([
      `set server ${AZ}/r02 state drain`,
      `set server ${AZ}/r02 addr 10.0.0.3 port 5432`,
      `set server ${AZ}/r02 weight 100`,
    ]);
    expect(after).toEqual([]);
  });

  it('prefers nothing on a host that does not know its zone: a serving in-zone slot is drained', () => {
    // Prepare: live as a host of eu-west-1a left it; this host now has no zone
    const bundle = zonedBundle([A1, B1]);
    // Act
    const { now } = plan(bundle, bundle, liveFor(bundle, HOST_AZ), '');
    // Assess
    expect(now).toEqual([`set server ${AZ}/r01 state drain`]);
  });

  it('readies the in-zone slot of a reader of this zone that a restart of another zone left disabled', () => {
    // Prepare
    const bundle = zonedBundle([A1, B1]);
    // Act
    const { now } = plan(bundle, bundle, liveFor(bundle, 'eu-west-1b'), HOST_AZ);
    // Assess
    expect(now).toEqual([`set server ${AZ}/r02 state drain`, `set server ${AZ}/r01 state ready`]);
  });

  it('asks for a reload (RuntimePlanError) when the in-zone backend is not live', () => {
    // Prepare: azAffinity just turned on; the live HAProxy has no in-zone backend yet
    const previous = bundleOf([A1]);
    const next = zonedBundle([A1], previous);
    // Act
    const run = () => plan(previous, next, liveRowsFor(previous));
    // Assess
    expect(run).toThrow(RuntimePlanError);
    expect(run).toThrow(`slot ${AZ}/r01 is not in the live HAProxy`);
  });
});
