import { azBackendName, isPreferredOnHost } from '@aurora-haproxy/contract/az-affinity';
import { parseBundle } from '@aurora-haproxy/contract/bundle';
import { HOST_ENV } from '@aurora-haproxy/contract/host';
import { ClusterOptionsSchema } from '@aurora-haproxy/contract/registry';
import { describe, expect, it } from 'vitest';
import { renderBundle } from '../../../functions/render/render-bundle';
import { FIXED_NOW, member, registryCluster, topologies, topology } from './fixtures';

/** A writer in 1a, readers in 1a, 1b, and one whose RDS answer has no AvailabilityZone. */
function zonedMembers() {
  return [
    member('orders-writer', '10.1.0.1', { isWriter: true, az: 'eu-west-1a' }),
    member('orders-a', '10.1.0.10', { az: 'eu-west-1a' }),
    member('orders-b', '10.1.0.11', { az: 'eu-west-1b' }),
    member('orders-x', '10.1.0.12', { az: undefined }),
  ];
}

function render(azAffinity: boolean | undefined, members = zonedMembers()) {
  const options = azAffinity === undefined ? {} : { azAffinity };
  return renderBundle(
    {
      clusters: [registryCluster('orders', 5433, { fallbackToWriter: true, ...options })],
      topologies: topologies(topology('orders', members)),
    },
    FIXED_NOW,
  );
}

/** The host-zone reference as the config holds it (not a template placeholder). */
const HOST_AZ_REF = `\${${HOST_ENV.availabilityZone}}`;

describe('AZ affinity render', () => {
  it('leaves a cluster without azAffinity as before: no zone in the bundle, no in-zone backend', () => {
    // Act
    const absent = render(undefined);
    const off = render(false);
    // Assess
    for (const bundle of [absent, off]) {
      expect(bundle.clusters[0]?.servers.some((s) => 'az' in s)).toBe(false);
      expect(bundle.files.haproxy).not.toContain('_az');
      expect(bundle.files.haproxy).not.toContain(HOST_ENV.availabilityZone);
    }
    expect(absent.files.haproxy).toBe(off.files.haproxy);
    expect(absent.clusters[0]?.options).not.toHaveProperty('azAffinity');
  });

  it('carries each reader zone in the bundle, never the writer zone', () => {
    // Act
    const bundle = render(true);
    // Assess
    const servers = bundle.clusters[0]?.servers ?? [];
    expect(servers.map((s) => [s.instanceId, s.role, s.az])).toEqual([
      ['orders-a', 'reader', 'eu-west-1a'],
      ['orders-b', 'reader', 'eu-west-1b'],
      ['orders-x', 'reader', undefined],
      ['orders-writer', 'writer', undefined],
    ]);
    expect(parseBundle(JSON.stringify(bundle)).sha256).toBe(bundle.sha256);
  });

  it('routes to the in-zone backend while it has a usable server, and enables a slot only on hosts of its zone', () => {
    // Act
    const { haproxy } = render(true).files;
    // Assess
    const twin = azBackendName('aurora-orders');
    expect(haproxy).toContain(`    use_backend ${twin} if { nbsrv(${twin}) gt 0 }\n`);
    expect(haproxy).toContain(`\nbackend ${twin}\n    balance leastconn\n`);
    expect(haproxy).toContain(
      [
        `.if streq("${HOST_AZ_REF}",eu-west-1a)`,
        '    server r01 10.1.0.10:5432 weight 100 track aurora-orders/r01',
        '.else',
        '    server r01 10.1.0.10:5432 weight 100 track aurora-orders/r01 disabled',
        '.endif',
        `.if streq("${HOST_AZ_REF}",eu-west-1b)`,
      ].join('\n'),
    );
    // No zone known: never preferred. Spares: disabled. The writer (w1): not in the twin.
    expect(haproxy).toContain(
      '    server r03 10.1.0.12:5432 weight 100 track aurora-orders/r03 disabled\n',
    );
    expect(haproxy).toContain(
      '    server r04 192.0.2.1:5432 weight 100 track aurora-orders/r04 disabled\n',
    );
    const twinSection = haproxy.slice(haproxy.indexOf(`\nbackend ${twin}`));
    expect(twinSection).not.toMatch(/server w1 |\/w1\b/);
  });

  it('ramps an in-zone slot up with the same slow start as its reader slot', () => {
    // Act
    const { haproxy } = renderBundle(
      {
        clusters: [registryCluster('orders', 5433, { azAffinity: true, slowStartMs: 5000 })],
        topologies: topologies(topology('orders', zonedMembers())),
      },
      FIXED_NOW,
    ).files;
    // Assess
    expect(haproxy).toContain('    server r01 10.1.0.10:5432 weight 100 slowstart 5000ms\n');
    expect(haproxy).toContain(
      '    server r01 10.1.0.10:5432 weight 100 track aurora-orders/r01 slowstart 5000ms\n',
    );
    expect(haproxy).toContain(
      '    server r04 192.0.2.1:5432 weight 100 track aurora-orders/r04 disabled slowstart 5000ms\n',
    );
  });

  it('keeps the structure when only a reader zone changes (runtime path, no reload)', () => {
    // Prepare
    const first = render(true);
    const moved = zonedMembers().map((m) =>
      m.instanceId === 'orders-b' ? { ...m, az: 'eu-west-1c' } : m,
    );
    // Act
    const second = render(true, moved);
    // Assess
    expect(second.sha256).not.toBe(first.sha256);
    expect(second.structureSha256).toBe(first.structureSha256);
    expect(render(false).structureSha256).not.toBe(first.structureSha256);
  });
});

describe('isPreferredOnHost', () => {
  const on = { options: ClusterOptionsSchema.parse({ azAffinity: true }) };
  const off = { options: ClusterOptionsSchema.parse({}) };

  it.each([
    ['in-zone reader of an opted-in cluster', on, 'reader', 'eu-west-1a', 'eu-west-1a', true],
    ['reader of another zone', on, 'reader', 'eu-west-1b', 'eu-west-1a', false],
    ['reader of unknown zone', on, 'reader', undefined, 'eu-west-1a', false],
    ['host that does not know its zone', on, 'reader', 'eu-west-1a', '', false],
    ['the writer, even in-zone', on, 'writer', 'eu-west-1a', 'eu-west-1a', false],
    ['a cluster without azAffinity', off, 'reader', 'eu-west-1a', 'eu-west-1a', false],
  ] as const)('%s -> %s', (_what, cluster, role, az, hostAz, expected) => {
    // Act
    const preferred = isPreferredOnHost(cluster, { role, az }, hostAz);
    // Assess
    expect(preferred).toBe(expected);
  });
});

describe('azAffinity option', () => {
  it('is absent unless given, and refuses anything but a boolean', () => {
    // Act
    const stored = ClusterOptionsSchema.parse({});
    const bad = ClusterOptionsSchema.safeParse({ azAffinity: 'yes' });
    // Assess
    expect(stored).not.toHaveProperty('azAffinity');
    expect(ClusterOptionsSchema.parse({ azAffinity: true }).azAffinity).toBe(true);
    expect(bad.success).toBe(false);
  });
});
