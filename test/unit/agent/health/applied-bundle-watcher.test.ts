import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingLog } from '@aurora-haproxy/test-support/recording';
import { describe, expect, it } from 'vitest';
import { AppliedBundleWatcher } from '../../../../agent/health/applied-bundle-watcher';
import type { BundleIndex } from '../../../../agent/health/bundle-index';
import { renderBundle } from '../../../../functions/render/render-bundle';
import { FIXED_NOW, member, registryCluster, topology } from '../../render/fixtures';

function bundle(readers: string[]) {
  return renderBundle(
    {
      clusters: [registryCluster('orders', 15432, { checkMode: 'external', maxReplicaLagMs: 500 })],
      topologies: new Map([
        [
          'orders',
          topology('orders', [
            member('writer-1', '10.0.0.1', { isWriter: true }),
            ...readers.map((id, i) => member(id, `10.0.1.${i + 1}`)),
          ]),
        ],
      ]),
    },
    FIXED_NOW,
  );
}

describe('AppliedBundleWatcher', () => {
  it('indexes the applied bundle: slots to servers, one entry per distinct server', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'ah-watch-'));
    const b = bundle(['reader-1', 'reader-2']);
    writeFileSync(join(dir, 'applied-bundle.json'), JSON.stringify(b));
    const seen: BundleIndex[] = [];
    const watcher = new AppliedBundleWatcher(
      join(dir, 'applied-bundle.json'),
      (i) => seen.push(i),
      new RecordingLog(),
    );

    // Act
    await watcher.check();

    // Assess
    const index = watcher.current();
    expect(index.sha256).toBe(b.sha256);
    expect([...index.servers.keys()].sort()).toEqual(['10.0.1.1:5432', '10.0.1.2:5432']);
    expect(index.slots.get('aurora-orders/r01')).toMatchObject({
      instanceId: 'reader-1',
      role: 'reader',
      checkMode: 'external',
      options: { fallbackToWriter: false, maxReplicaLagMs: 500 },
    });
    expect(seen).toHaveLength(1);
  });

  it('refuses a tampered bundle and keeps the previous one', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'ah-watch-'));
    const path = join(dir, 'applied-bundle.json');
    const good = bundle(['reader-1']);
    writeFileSync(path, JSON.stringify(good));
    const log = new RecordingLog();
    const watcher = new AppliedBundleWatcher(path, () => undefined, log);
    await watcher.check();
    // A copy: rendered bundles share frozen cluster objects.
    const tampered = structuredClone(bundle(['reader-1', 'reader-2']));
    const first = tampered.clusters[0]?.servers[0];
    if (first) tampered.clusters[0]?.servers.push({ ...first, name: 'r09' });

    // Act
    writeFileSync(path, `${JSON.stringify(tampered)} `);
    await watcher.check();

    // Assess
    expect(watcher.current().sha256).toBe(good.sha256);
    expect(log.lines.join('\n')).toMatch(/applied bundle refused.*hashes to/);
  });

  it('a missing file means nothing to probe (every check then fails as unknown)', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'ah-watch-'));
    const path = join(dir, 'applied-bundle.json');
    writeFileSync(path, JSON.stringify(bundle(['reader-1'])));
    const watcher = new AppliedBundleWatcher(path, () => undefined, new RecordingLog());
    await watcher.check();

    // Act
    rmSync(path);
    await watcher.check();

    // Assess
    expect(watcher.current().sha256).toBeNull();
    expect(watcher.current().slots.size).toBe(0);
  });
});
