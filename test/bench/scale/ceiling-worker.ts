import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BUNDLE_PART_BYTES } from '@aurora-haproxy/contract/bundle-item';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { ClusterOptionsSchema, type RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import pg from 'pg';
import { DynamoDbBundleSource } from '../../../agent/bundle-source/dynamodb';
import { renderBundle } from '../../../functions/render/render-bundle';
import { BundleStore } from '../../../functions/state/bundle-store';
import { startDynamoDbLocal } from '../../../packages/local-stack/dynamodb-local';
import {
  HAPROXY_BINARY,
  localHostValues,
  startLocalHaproxy,
} from '../../../packages/local-stack/haproxy';
import { startLocalPgbouncer } from '../../../packages/local-stack/pgbouncer';
import { freePort } from '../../../packages/local-stack/process/ports';

/**
 * One size of the registry ceiling figure, in its own process: `clusters` clusters of one
 * writer and 15 readers with random identifiers (random ids compress worst; sequential ones
 * hide the size), rendered, stored in DynamoDB Local through the orchestrator's BundleStore,
 * fetched by the agent's DynamoDbBundleSource (GetItem per part), and applied in the real
 * programs: HAProxy started on the config until its worker answers, PgBouncer RELOADed with
 * the include until SHOW DATABASES lists every alias. Prints one JSON line.
 * Usage: ceiling-worker.ts <clusters>
 */
const clusters = Number(process.argv[2]);
const READERS = 15;
const NOFILE = 262_144;
const NOW = '2026-12-02T00:00:00.000Z';
const rid = (n: number) =>
  `c${randomBytes(n)
    .toString('hex')
    .slice(0, n - 1)}`;

function fleet(hostnames: boolean): {
  registry: RegistryCluster[];
  topologies: Map<string, ClusterTopology>;
} {
  const registry = Array.from({ length: clusters }, (_, i) => ({
    clusterId: rid(24),
    port: 10_000 + i,
    databases: [{ alias: `a_${rid(16)}`, dbname: 'app' }],
    options: ClusterOptionsSchema.parse({}),
    version: 1,
    createdAt: NOW,
    updatedAt: NOW,
  }));
  const topologies = new Map<string, ClusterTopology>();
  registry.forEach((c, i) => {
    topologies.set(c.clusterId, {
      clusterId: c.clusterId,
      status: 'available',
      engine: 'aurora-postgresql',
      observedAt: NOW,
      stale: false,
      members: Array.from({ length: READERS + 1 }, (_, m) => {
        const instanceId = rid(24);
        return {
          instanceId,
          address: hostnames
            ? `${instanceId}.${rid(12)}.eu-west-1.rds.amazonaws.com`
            : `10.${(i >> 8) & 255}.${i & 255}.${m + 1}`,
          port: 5432,
          isWriter: m === 0,
          status: 'available',
          instanceClass: 'db.r6g.large',
          az: 'eu-west-1a',
        };
      }),
    });
  });
  return { registry, topologies };
}

const ms = (t0: number) => performance.now() - t0;

async function main() {
  // Size with RDS-style host names (what AWS returns), for the stored size only: HAProxy
  // would resolve 80 000 random names at start.
  const named = fleet(true);
  const namedBundle = renderBundle(
    { clusters: named.registry, topologies: named.topologies },
    new Date(NOW),
  );
  const namedGzip = gzipSync(JSON.stringify(namedBundle)).length;

  const { registry, topologies } = fleet(false);
  let t0 = performance.now();
  const bundle = renderBundle({ clusters: registry, topologies }, new Date(NOW));
  const renderMs = ms(t0);
  const gzipBytes = gzipSync(JSON.stringify(bundle)).length;

  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-ceiling-'));
  chmodSync(dir, 0o755);
  const ddb = await startDynamoDbLocal();
  const cleanups: (() => Promise<void>)[] = [() => ddb.stop()];
  try {
    await ddb.createTable('ceiling');
    t0 = performance.now();
    await new BundleStore(ddb.client(), 'ceiling').put(bundle);
    const storeMs = ms(t0);
    t0 = performance.now();
    const fetched = await new DynamoDbBundleSource(ddb.client(), 'ceiling').getBundle(
      bundle.sha256,
    );
    const fetchMs = ms(t0);
    if (fetched.sha256 !== bundle.sha256) throw new Error('fetched another bundle');

    let applied: Record<string, number> = {};
    let applyError: string | undefined;
    try {
      // Apply: HAProxy started on the config (10 000 listeners), PgBouncer RELOADed.
      const host = localHostValues(join(dir, 'host'), '127.0.77.1', await freePort());
      chmodSync(host.socketDir, 0o1777);
      const configPath = join(dir, 'haproxy.cfg');
      writeFileSync(configPath, fetched.files.haproxy);
      const includeFile = join(dir, 'databases.ini');
      writeFileSync(includeFile, '[databases]\n');
      chmodSync(includeFile, 0o644);
      const pgbouncer = await startLocalPgbouncer({
        dir: join(dir, 'pgbouncer'),
        listenAddress: '127.0.77.2',
        port: await freePort(),
        socketDir: host.socketDir,
        databasesFile: includeFile,
      });
      cleanups.push(() => pgbouncer.stop());
      // HAProxy sizes its file limit from listeners and servers (about 34 a cluster here) and
      // refuses to start when the hard limit is lower (strict-limits, on by default: seen
      // on 2.6). A host's unit raises it (LimitNOFILE=262144). A machine whose hard limit is lower
      // and that may not raise it (no CAP_SYS_RESOURCE) runs HAProxy with what it has and
      // `no strict-limits` added to the global section, for this run only: every listener
      // binds and every server is checked; only its connection capacity is smaller.
      const hardLimit = Number(execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim());
      const fdLimit = Number.isFinite(hardLimit) ? Math.min(NOFILE, hardLimit) : NOFILE;
      if (fdLimit < NOFILE) {
        const relaxed = fetched.files.haproxy.replace(
          /^global\n/m,
          'global\n    no strict-limits\n',
        );
        if (relaxed === fetched.files.haproxy) throw new Error('no global section in the config');
        writeFileSync(configPath, relaxed);
      }
      applied.fdLimit = fdLimit;
      const binary = join(dir, 'haproxy-nofile.sh');
      writeFileSync(binary, `#!/bin/sh\nulimit -n ${fdLimit}\nexec ${HAPROXY_BINARY} "$@"\n`, {
        mode: 0o755,
      });
      writeFileSync(join(host.runDir, 'server-state'), '1\n');
      t0 = performance.now();
      const haproxy = await startLocalHaproxy({
        dir: join(dir, 'haproxy'),
        configPath,
        host,
        binary,
        timeoutMs: 300_000,
      });
      cleanups.push(() => haproxy.stop());
      const haproxyStartMs = ms(t0);
      t0 = performance.now();
      writeFileSync(includeFile, fetched.files.pgbouncerDatabases);
      const client = new pg.Client({ ...pgbouncer.admin, database: 'pgbouncer' });
      client.on('error', () => undefined); // a dropped socket also rejects the pending call
      await client.connect();
      await client.query('RELOAD');
      const { rows } = await client.query('SHOW DATABASES');
      await client.end();
      const pgbouncerReloadMs = ms(t0);
      const aliases = rows.length - 1;
      if (aliases !== clusters)
        throw new Error(`PgBouncer lists ${aliases} aliases, not ${clusters}`);
      applied = { ...applied, haproxyStartMs, pgbouncerReloadMs, aliases };
    } catch (error) {
      // Reported, not thrown: store and fetch were measured; the figure says why apply was not.
      applyError = errorMessage(error).slice(0, 400);
    }
    process.stdout.write(
      `${JSON.stringify({
        clusters,
        readers: READERS,
        renderMs,
        jsonBytes: JSON.stringify(bundle).length,
        gzipBytes,
        namedGzipBytes: namedGzip,
        parts: Math.ceil(gzipBytes / BUNDLE_PART_BYTES),
        namedParts: Math.ceil(namedGzip / BUNDLE_PART_BYTES),
        storeMs,
        fetchMs,
        ...applied,
        applyError,
        peakRssKiB: process.resourceUsage().maxRSS,
      })}\n`,
    );
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
