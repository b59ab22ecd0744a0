import { type Bundle, parseBundle } from '@aurora-haproxy/contract/bundle';
import {
  canonicalArrayJson,
  canonicalJson,
  canonicalJsonOnce,
  canonicalObjectJson,
  jsonEscaped,
  jsonStringPieces,
  sha256Hex,
  sha256OfPieces,
} from '@aurora-haproxy/contract/canonical-json';
import { markParsed, wasParsedBy } from '@aurora-haproxy/contract/parsed-marks';
import { type RegistryCluster, RegistryClusterSchema } from '@aurora-haproxy/contract/registry';
import { type ClusterTopology, ClusterTopologySchema } from '@aurora-haproxy/contract/topology';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { renderBundle } from '../../../functions/render/render-bundle';
import { forgetRenderedClusters } from '../../../functions/render/sections';
import {
  clusterMembers,
  FIXED_NOW,
  member,
  registryCluster,
  topologies,
  topology,
} from './fixtures';

/**
 * The render's shortcuts (rendered clusters reused across renders, inputs already parsed by
 * their reader, canonical JSON composed from its members) must give byte for byte what a
 * render with nothing cached gives, and never let a changed or unchecked value through.
 */
function fleet(
  count: number,
  readers: number,
  moved = -1,
): {
  clusters: RegistryCluster[];
  tops: Map<string, ClusterTopology>;
} {
  const clusters = Array.from({ length: count }, (_, i) =>
    registryCluster(`c${i}`, 6000 + i, i % 3 === 0 ? { fallbackToWriter: true } : {}),
  );
  const list = clusters.map((c, i) =>
    topology(
      c.clusterId,
      clusterMembers(i, readers).map((m, j) =>
        i === moved && j === 1 ? { ...m, address: `10.250.${i % 250}.9` } : m,
      ),
    ),
  );
  return { clusters, tops: topologies(...list) };
}

function cold(input: Parameters<typeof renderBundle>[0]): Bundle {
  forgetRenderedClusters();
  return renderBundle(input, FIXED_NOW);
}

describe('render cache', () => {
  beforeEach(() => forgetRenderedClusters());

  it('a warm render equals a cold one, file bytes and sha, tick after tick', () => {
    // Prepare
    const base = fleet(12, 4);
    const first = renderBundle({ clusters: base.clusters, topologies: base.tops }, FIXED_NOW);
    for (const moved of [0, 5, 11, 5]) {
      const tick = fleet(12, 4, moved);
      const input = { clusters: tick.clusters, topologies: tick.tops, previous: first };
      // Act
      const warm = renderBundle(input, FIXED_NOW);
      const reference = cold(input);
      // Assess
      expect(warm.files).toEqual(reference.files);
      expect(warm.structureSha256).toBe(reference.structureSha256);
      expect(warm.sha256).toBe(reference.sha256);
      expect(warm.sha256).not.toBe(first.sha256);
      expect(JSON.stringify(warm)).toBe(JSON.stringify(reference));
      // The agent's check hashes the config escaped whole, not in the render's pieces.
      expect(parseBundle(JSON.stringify(warm)).sha256).toBe(warm.sha256);
    }
  });

  it('a cluster rendered from the same inputs is reused; any input that differs renders anew', () => {
    // Prepare: each step changes one input the render reads (or none), from new objects.
    const base = fleet(4, 3);
    const first = renderBundle({ clusters: base.clusters, topologies: base.tops }, FIXED_NOW);
    const withMember = (
      change: (m: ClusterTopology['members'][number]) => object,
      extra: Partial<ClusterTopology> = {},
    ) => {
      const f = fleet(4, 3);
      const t = f.tops.get('c2') as ClusterTopology;
      f.tops.set('c2', {
        ...t,
        ...extra,
        members: t.members.map((m, j) => (j === 2 ? { ...m, ...change(m) } : m)),
      });
      return f;
    };
    const steps: [string, ReturnType<typeof fleet>, boolean][] = [
      ['the same inputs, new objects', fleet(4, 3), true],
      ['a reader re-addressed', withMember(() => ({ address: '10.99.0.9' })), false],
      ['a reader on another port', withMember(() => ({ port: 5433 })), false],
      ['a reader stopped', withMember(() => ({ status: 'stopped' })), false],
      ['a reader renamed', withMember(() => ({ instanceId: 'c2-zz' })), false],
      ['the topology turned stale', withMember(() => ({}), { stale: true }), false],
      [
        'only observedAt changed',
        withMember(() => ({}), { observedAt: '2026-01-02T00:00:00.000Z' }),
        true,
      ],
      [
        'the registry cluster changed',
        (() => {
          const f = fleet(4, 3);
          f.clusters[2] = registryCluster('c2', 6002, { weights: 'instance-class' });
          return f;
        })(),
        false,
      ],
      [
        'an alias added (the PgBouncer file changes)',
        (() => {
          const f = fleet(4, 3);
          f.clusters[2] = registryCluster('c2', 6002, {}, [
            { alias: 'c2', dbname: 'app' },
            { alias: 'c2_b', dbname: 'b' },
          ]);
          return f;
        })(),
        false,
      ],
      [
        'no topology',
        (() => {
          const f = fleet(4, 3);
          f.tops.delete('c2');
          return f;
        })(),
        false,
      ],
    ];
    for (const [what, step, reused] of steps) {
      for (const previous of [undefined, first]) {
        const input = {
          clusters: step.clusters,
          topologies: step.tops,
          ...(previous ? { previous } : {}),
        };
        renderBundle(
          { clusters: base.clusters, topologies: base.tops, ...(previous ? { previous } : {}) },
          FIXED_NOW,
        );
        const before = renderBundle(
          { clusters: base.clusters, topologies: base.tops, ...(previous ? { previous } : {}) },
          FIXED_NOW,
        );
        // Act
        const warm = renderBundle(input, FIXED_NOW);
        const reference = cold(input);
        // Assess
        expect(JSON.stringify(warm), what).toBe(JSON.stringify(reference));
        expect(warm.clusters[2] === before.clusters[2], what).toBe(reused);
        expect(warm.clusters[1], what).toBe(before.clusters[1]);
      }
    }
  });

  it('a held-back topology is reported on every render, not remembered', () => {
    // Prepare
    const c = registryCluster('solo', 6100);
    const good = topology('solo', [member('solo-1', '10.0.0.1')]);
    const first = renderBundle({ clusters: [c], topologies: topologies(good) }, FIXED_NOW);
    const twice = topology('solo', [member('solo-1', '10.0.0.1'), member('solo-1', '10.0.0.2')]);
    const heldBack: string[] = [];
    // Act
    for (let i = 0; i < 3; i++) {
      renderBundle(
        {
          clusters: [c],
          topologies: topologies(twice),
          previous: first,
          onHeldBack: (id) => heldBack.push(id),
        },
        FIXED_NOW,
      );
    }
    // Assess
    expect(heldBack).toEqual(['solo', 'solo', 'solo']);
  });

  it('a cluster changed between renders is rendered anew, not taken from the cache', () => {
    // Prepare
    const a = fleet(3, 2);
    const before = renderBundle({ clusters: a.clusters, topologies: a.tops }, FIXED_NOW);
    const changed = a.clusters.map((c, i) =>
      i === 1 ? registryCluster(c.clusterId, c.port, { balance: 'roundrobin' }) : c,
    );
    // Act
    const after = renderBundle({ clusters: changed, topologies: a.tops }, FIXED_NOW);
    // Assess
    expect(after.files.haproxy).toContain('balance roundrobin');
    expect(before.files.haproxy).not.toContain('balance roundrobin');
    expect(after.structureSha256).not.toBe(before.structureSha256);
    expect(after.files.haproxy).toBe(cold({ clusters: changed, topologies: a.tops }).files.haproxy);
  });

  it('bundles share frozen cluster objects: mutating one throws instead of changing both', () => {
    // Prepare
    const a = fleet(2, 2);
    const one = renderBundle({ clusters: a.clusters, topologies: a.tops }, FIXED_NOW);
    const two = renderBundle({ clusters: a.clusters, topologies: a.tops }, FIXED_NOW);
    // Act / Assess
    expect(two.clusters[0]).toBe(one.clusters[0]);
    expect(() => {
      (one.clusters[0] as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('skips parsing a marked topology, parses an unmarked one and still rejects its bad value', () => {
    // Prepare
    const c = registryCluster('solo', 6100);
    const good = ClusterTopologySchema.parse(topology('solo', [member('solo-1', '10.0.0.1')]));
    const marked = markParsed(ClusterTopologySchema, good);
    const bad = { ...topology('solo', [member('solo-1', '10.0.0.1')]), status: 7 };
    const heldBack: string[] = [];
    // Act
    renderBundle({ clusters: [c], topologies: topologies(marked) }, FIXED_NOW);
    renderBundle(
      {
        clusters: [c],
        topologies: new Map([['solo', bad as unknown as ClusterTopology]]),
        onHeldBack: (id, problem) => heldBack.push(`${id}: ${problem}`),
      },
      FIXED_NOW,
    );
    // Assess
    expect(wasParsedBy(ClusterTopologySchema, marked)).toBe(true);
    expect(wasParsedBy(RegistryClusterSchema, marked)).toBe(false);
    expect(wasParsedBy(ClusterTopologySchema, bad)).toBe(false);
    expect(heldBack).toHaveLength(1);
    expect(heldBack[0]).toMatch(/solo: .*status 7/);
    expect(Object.isFrozen(marked.members[0])).toBe(true);
  });

  it('canonicalObjectJson / canonicalArrayJson / canonicalJsonOnce compose canonicalJson exactly', () => {
    const json = fc.jsonValue();
    fc.assert(
      fc.property(fc.dictionary(fc.string(), json), fc.array(json), (members, items) => {
        const serialized = Object.fromEntries(
          Object.entries(members).map(([k, v]) => [k, canonicalJson(v)]),
        );
        expect(canonicalObjectJson(serialized)).toBe(canonicalJson(members));
        expect(canonicalArrayJson(items.map((v) => canonicalJson(v)))).toBe(canonicalJson(items));
        const frozen = Object.freeze({ items, members });
        expect(canonicalJsonOnce(frozen)).toBe(canonicalJson(frozen));
        expect(canonicalJsonOnce(frozen)).toBe(canonicalJson(frozen));
      }),
      { numRuns: 300 },
    );
  });

  it('a text escaped and hashed in pieces gives the bytes and sha of the whole', () => {
    // Pieces cut at line ends, as the render's sections are (ASCII and any other text).
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme' }).map((l) => `${l}\n`)), (lines) => {
        const whole = lines.join('');
        expect(jsonStringPieces(lines.map(jsonEscaped)).join('')).toBe(JSON.stringify(whole));
        expect(sha256OfPieces(lines)).toBe(sha256Hex(whole));
      }),
      { numRuns: 300 },
    );
  });
});
