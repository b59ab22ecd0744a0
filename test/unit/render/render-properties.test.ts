import type { Bundle } from '@aurora-haproxy/contract/bundle';
import type { TopologyMember } from '@aurora-haproxy/contract/topology';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderBundle } from '../../../functions/render/render-bundle';
import { FIXED_NOW, member, registryCluster, topologies, topology } from './fixtures';

/**
 * Properties of rendering over random memberships: a reader that stays keeps its slot, no
 * slot is used twice, the writer is only ever w1, and re-rendering with the bundle itself as
 * previous changes nothing.
 */
const memberArb = fc.record({
  n: fc.integer({ min: 1, max: 40 }),
  isWriter: fc.boolean(),
  status: fc.constantFrom('available', 'modifying', 'creating', 'deleting', 'rebooting'),
  instanceClass: fc.constantFrom('db.r6g.large', 'db.r6g.4xlarge', 'db.serverless'),
});

function members(raw: { n: number; isWriter: boolean; status: string; instanceClass: string }[]) {
  const byId = new Map<string, TopologyMember>();
  for (const m of raw) {
    byId.set(
      `db-${m.n}`,
      member(`db-${m.n}`, `10.0.${Math.floor(m.n / 200)}.${m.n % 200}`, {
        isWriter: m.isWriter,
        status: m.status,
        instanceClass: m.instanceClass,
      }),
    );
  }
  return [...byId.values()];
}

const optionsArb = fc.record({
  fallbackToWriter: fc.boolean(),
  weights: fc.constantFrom('equal' as const, 'instance-class' as const),
  excludeInstances: fc.uniqueArray(
    fc.integer({ min: 1, max: 40 }).map((n) => `db-${n}`),
    {
      maxLength: 3,
    },
  ),
});

function render(raw: Parameters<typeof members>[0], options: object, previous?: Bundle) {
  return renderBundle(
    {
      clusters: [registryCluster('prop', 5433, options)],
      topologies: topologies(topology('prop', members(raw))),
      previous,
    },
    FIXED_NOW,
  );
}

describe('render properties', () => {
  it('keeps the slot of every staying reader, never reuses a slot, writer only in w1', () => {
    fc.assert(
      fc.property(
        fc.array(memberArb, { maxLength: 30 }),
        fc.array(memberArb, { maxLength: 30 }),
        optionsArb,
        (before, after, options) => {
          // Act
          const first = render(before, options);
          const second = render(after, options, first);
          // Assess
          const [c1] = first.clusters;
          const [c2] = second.clusters;
          if (!c1 || !c2) throw new Error('no cluster');
          const slotBefore = new Map(
            c1.servers.filter((s) => s.role === 'reader').map((s) => [s.instanceId, s.name]),
          );
          for (const server of c2.servers) {
            if (server.role === 'writer') expect(server.name).toBe('w1');
            else {
              expect(server.name).not.toBe('w1');
              const previous = slotBefore.get(server.instanceId);
              if (previous !== undefined) expect(server.name).toBe(previous);
            }
            expect(options.excludeInstances).not.toContain(server.instanceId);
          }
          expect(new Set(c2.servers.map((s) => s.name)).size).toBe(c2.servers.length);
          expect(c2.readerSlots).toBeGreaterThanOrEqual(c1.readerSlots);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is idempotent: rendering again with itself as previous gives the same sha', () => {
    fc.assert(
      fc.property(fc.array(memberArb, { maxLength: 30 }), optionsArb, (raw, options) => {
        const first = render(raw, options);
        expect(render(raw, options, first).sha256).toBe(first.sha256);
      }),
      { numRuns: 100 },
    );
  });
});
