import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { azBackendName } from '@aurora-haproxy/contract/az-affinity';
import { pgbouncerEntries } from '@aurora-haproxy/contract/listeners';
import { backendName, writerBackendName } from '@aurora-haproxy/contract/names';
import { pgbouncerNeeded } from '@aurora-haproxy/contract/pooling';
import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { ClusterTopology } from '@aurora-haproxy/contract/topology';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unmetRequirements } from '../../../agent/apply/versions';
import { expandInclude } from '../../../agent/pgbouncer/host-include';
import { runAdmin } from '../../../functions/admin/admin';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { renderBundle } from '../../../functions/render/render-bundle';
import { silentLog } from '../../../functions/shared/observability';
import { type LocalPgbouncer, startLocalPgbouncer } from '../../../packages/local-stack/pgbouncer';
import { freePort } from '../../../packages/local-stack/process/ports';
import { haproxyCheck } from '../../support/haproxy-check';
import { atLeast, stackVersions } from '../../support/stack-versions';
import {
  chaos,
  oneBadField,
  PGBOUNCER_RESERVED,
  plausibleAdd,
  validAdd,
} from '../../unit/admin/arbitraries';
import { FakeRegistry } from '../../unit/admin/fake-registry';

/**
 * No accepted admin value can break a program that loads it: 10 000 fuzzed add requests
 * (valid ones, ones whose aliases are names special to PgBouncer such as its admin database
 * `pgbouncer`, ones with one bad field, and chaos) go through the admin core; every accepted
 * cluster is rendered by renderBundle, in registries of BATCH clusters (unique ids, ports and
 * aliases, as in a registry), and each rendered bundle is loaded by the real programs:
 * `haproxy -c` passes on its config with exactly the sections the clusters call for, and a
 * real PgBouncer RELOADed with its [databases] include then lists exactly the rendered aliases
 * (name, port, dbname, host = the listen address) in SHOW DATABASES. PgBouncer answers RELOAD
 * with success even when it stopped reading the include at a line it refuses, so the listing
 * is the proof.
 */
const CASES = 10_000;
const BATCH = 1_000;
/**
 * ~10 haproxy -c runs and PgBouncer RELOADs of 1,000 clusters each (writer endpoints add a
 * listener and an alias to about a third of them): ~85 s alone here, past the project's
 * 120 s under a load of 20 on 2 cores. A bound, not a timed assertion.
 */
const LOAD_TIMEOUT_MS = 300_000;
const SEED = 20261202;
const NOW = new Date('2026-12-02T10:00:00.000Z');

/** haproxy -c warnings a valid config may produce here (as in the render golden tests). */
// None: haproxyCheck sets the host nameserver, so names are not resolved during the check
// (they used to be, through the machine's resolver: "could not resolve address" warnings).
const ACCEPTED_WARNINGS: RegExp[] = [];

const deps = (registry: FakeRegistry) => ({
  registry,
  rds: undefined as never,
  triggerReconcile: async () => {},
  readStatus: async () => ({}),
  reservedPorts: DEFAULT_RESERVED,
  log: silentLog,
});

/** Runs add requests through the admin core (forced: no RDS), keeping what it accepts. */
async function accept(requests: readonly object[]): Promise<RegistryCluster[]> {
  const accepted: RegistryCluster[] = [];
  for (const request of requests) {
    const result = await runAdmin({ ...request, force: true }, deps(new FakeRegistry()));
    if (result.ok && result.action === 'add') accepted.push(result.cluster);
  }
  return accepted;
}

/**
 * The generators repeat short values often (alias "a", port 1024), which one registry cannot
 * hold twice. Each repeat gets a suffix (or the next free port), and the changed requests go
 * through the admin core again: they are accepted inputs too, and every original value is
 * still rendered once.
 */
function uniquified(clusters: readonly RegistryCluster[]): object[] {
  const ids = new Set<string>();
  const ports = new Set<number>();
  const aliases = new Set<string>();
  let n = 0;
  const fresh = (taken: Set<string>, value: string, make: (k: string) => string) => {
    let candidate = value;
    while (taken.has(candidate)) candidate = make((n++).toString(36));
    taken.add(candidate);
    return candidate;
  };
  const takePort = (wanted: number) => {
    let port = wanted;
    while (ports.has(port) || DEFAULT_RESERVED.has(port)) port = port >= 65535 ? 1024 : port + 1;
    ports.add(port);
    return port;
  };
  return clusters.map((c) => {
    const port = takePort(c.port);
    const databases = c.databases.map((d) => ({
      alias: fresh(aliases, d.alias, (k) => `${d.alias.slice(0, 55)}_${k}`),
      dbname: d.dbname,
    }));
    const writer = c.options.writer;
    return {
      action: 'add',
      clusterId: fresh(
        ids,
        c.clusterId,
        (k) => `${c.clusterId.slice(0, 55).replace(/-+$/, '')}x${k}`,
      ),
      port,
      databases,
      options: writer
        ? {
            ...c.options,
            writer: {
              ...writer,
              alias: fresh(aliases, writer.alias, (k) => `${writer.alias.slice(0, 55)}_${k}`),
              port: takePort(writer.port),
            },
          }
        : c.options,
    };
  });
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}

function topologyOf(cluster: RegistryCluster, index: number): ClusterTopology {
  const octet = (n: number) => (index * 3 + n) % 250;
  return {
    clusterId: cluster.clusterId,
    status: 'available',
    engine: 'aurora-postgresql',
    observedAt: NOW.toISOString(),
    stale: false,
    members: ['writer-1', 'reader-1', 'reader-2'].map((instanceId, n) => ({
      instanceId,
      address: `10.${Math.floor(index / 250) % 250}.${octet(n)}.${n + 1}`,
      port: 5432,
      isWriter: n === 0,
      status: 'available',
      instanceClass: 'db.r6g.large',
      // Two zones, so azAffinity clusters render in-zone slots for both.
      az: n === 2 ? 'eu-west-1b' : 'eu-west-1a',
    })),
  };
}

/** Lines that start a section (not indented, not a comment, not a `.if` block line, not empty). */
function sectionHeaders(config: string): string[] {
  return config.split('\n').filter((line) => line !== '' && !/^[\s#.]/.test(line));
}

interface LoadedDatabase {
  name: string;
  host: string | null;
  port: number;
  database: string;
  /** Pooling as PgBouncer applies it: pool_mode (null: the host's), pool_size, cap (0: none). */
  poolMode: string | null;
  poolSize: number;
  maxConnections: number;
}

/** default_pool_size of the local PgBouncer (packages/local-stack/pgbouncer.ts). */
const HOST_POOL_SIZE = 20;

/** Writes the include, RELOADs the real PgBouncer and returns SHOW DATABASES (ours only). */
async function loadInPgbouncer(
  pgbouncer: LocalPgbouncer,
  includeFile: string,
  text: string,
): Promise<LoadedDatabase[]> {
  writeFileSync(includeFile, text);
  const client = new pg.Client({ ...pgbouncer.admin, database: 'pgbouncer' });
  client.on('error', () => undefined); // a dropped socket also rejects the pending call
  await client.connect();
  try {
    await client.query('RELOAD');
    const { rows } = await client.query('SHOW DATABASES');
    return rows
      .filter((r) => r.name !== 'pgbouncer' || r.force_user === null)
      .map((r) => ({
        name: r.name,
        host: r.host ?? null,
        port: Number(r.port),
        database: r.database,
        poolMode: r.pool_mode ?? null,
        poolSize: Number(r.pool_size),
        maxConnections: Number(r.max_connections),
      }));
  } finally {
    await client.end();
  }
}

function pgbouncerLogTail(pgbouncer: LocalPgbouncer): string {
  const lines = readFileSync(pgbouncer.logFile, 'utf8').split('\n');
  return lines
    .filter((l) => /ERROR|WARNING|FATAL/.test(l))
    .slice(-4)
    .join(' | ');
}

const byName = (a: LoadedDatabase, b: LoadedDatabase) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

describe('accepted admin values loaded by the real HAProxy and PgBouncer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'accepted-render-'));
  const includeFile = join(dir, 'databases.ini');
  let pgbouncer: LocalPgbouncer | undefined;

  beforeAll(async () => {
    // PgBouncer runs as postgres: it must reach the include inside this root-made temp dir.
    chmodSync(dir, 0o755);
    writeFileSync(includeFile, '[databases]\n');
    chmodSync(includeFile, 0o644);
    pgbouncer = await startLocalPgbouncer({
      dir: join(dir, 'pgbouncer'),
      listenAddress: '127.0.0.1',
      port: await freePort(),
      socketDir: join(dir, 'sockets'),
      databasesFile: includeFile,
    });
  });

  afterAll(async () => {
    await pgbouncer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses every alias PgBouncer reserves, naming the field', async () => {
    for (const alias of PGBOUNCER_RESERVED) {
      // Act
      const result = await runAdmin(
        {
          action: 'add',
          clusterId: 'orders',
          port: 6000,
          force: true,
          databases: [
            { alias: 'app', dbname: 'app' },
            { alias, dbname: 'app' },
          ],
        },
        deps(new FakeRegistry()),
      );
      // Assess
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error.code).toBe('VALIDATION_FAILED');
      expect(result.error.message).toMatch(/^databases\.1\.alias: is reserved by PgBouncer/);
    }
  });

  it(
    'every registry of accepted clusters loads in haproxy -c and in PgBouncer, alias for alias with its pooling; prepared statements are required of the host, refused below PgBouncer 1.21',
    async () => {
      // Prepare
      if (!pgbouncer) throw new Error('PgBouncer did not start');
      const asAdd = (c: unknown) => ({ ...(c as object), action: 'add' });
      const requests = fc.sample(
        fc.oneof(
          { weight: 5, arbitrary: validAdd },
          { weight: 3, arbitrary: plausibleAdd },
          { weight: 1, arbitrary: oneBadField.map((b) => asAdd(b.request)) },
          { weight: 1, arbitrary: chaos.map(asAdd) },
        ),
        { numRuns: CASES, seed: SEED },
      );
      const accepted = await accept(requests);
      const distinct = await accept(uniquified(accepted));
      const groups = chunks(distinct, BATCH);
      // What this machine's agent must answer a bundle asking for prepared statements.
      const host = { pgbouncer: stackVersions().pgbouncer.text.replace(/^PgBouncer /, '') };
      const preparedServed = atLeast(stackVersions().pgbouncer, 1, 21);
      let loadedAliases = 0;
      let preparedBundles = 0;
      let writerAliases = 0;

      // Act + Assess, one haproxy -c per batch
      for (const group of groups) {
        const topologies = new Map(group.map((c, i) => [c.clusterId, topologyOf(c, i)]));
        const bundle = renderBundle({ clusters: group, topologies }, NOW);

        // HAProxy skips a false `.if` branch unparsed: checked as a host of eu-west-1a, the
        // in-zone slots of azAffinity clusters (reader-1) load their enabled branch and those of
        // eu-west-1b (reader-2) their disabled one.
        const check = await haproxyCheck(bundle.files.haproxy, { AURORA_HAPROXY_AZ: 'eu-west-1a' });
        expect(check.ok, check.output).toBe(true);
        const unexpected = check.problems.filter((p) => !ACCEPTED_WARNINGS.some((w) => w.test(p)));
        expect(unexpected, check.output).toEqual([]);

        const ids = group.map((c) => c.clusterId).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const withWriter = new Set(group.filter((c) => c.options.writer).map((c) => c.clusterId));
        expect(sectionHeaders(bundle.files.haproxy)).toEqual([
          'global',
          'defaults',
          'resolvers aurora-dns',
          'listen stats',
          ...ids.flatMap((id) => {
            const listen = `listen ${backendName(id)}`;
            const zoned = group.find((c) => c.clusterId === id)?.options.azAffinity;
            const writer = withWriter.has(id) ? [`listen ${writerBackendName(id)}`] : [];
            return zoned
              ? [listen, `backend ${azBackendName(backendName(id))}`, ...writer]
              : [listen, ...writer];
          }),
        ]);
        const binds = bundle.files.haproxy.split('\n').filter((l) => /^\s+bind /.test(l));
        expect(binds).toHaveLength(1 + 2 * (group.length + withWriter.size));
        const slowStarts = group.filter((c) => (c.options.slowStartMs ?? 0) > 0).length;
        expect(bundle.files.haproxy.includes(' slowstart ')).toBe(slowStarts > 0);

        // As the agent installs it (host placeholder = the host's listen address).
        const loaded = await loadInPgbouncer(
          pgbouncer,
          includeFile,
          expandInclude(bundle.files.pgbouncerDatabases, '127.0.0.1'),
        );
        // Reader aliases carry the cluster's pooling; a writer endpoint's alias its own pool_mode.
        const expected = bundle.clusters.flatMap((c) =>
          pgbouncerEntries(c).map((e) => {
            const reader = e.poolMode === undefined;
            return {
              name: e.alias,
              host: '127.0.0.1',
              port: e.port,
              database: e.dbname,
              poolMode: reader ? (c.options.poolMode ?? null) : (e.poolMode ?? null),
              poolSize: reader ? (c.options.poolSize ?? HOST_POOL_SIZE) : HOST_POOL_SIZE,
              maxConnections: reader ? (c.options.maxDbConnections ?? 0) : 0,
            };
          }),
        );
        writerAliases += bundle.clusters.filter((c) => c.writer).length;
        const key = (d: LoadedDatabase) =>
          `${d.name} port=${d.port} dbname=${d.database} host=${d.host} pool_mode=${d.poolMode} pool_size=${d.poolSize} max_db_connections=${d.maxConnections}`;
        const loadedKeys = new Set(loaded.map(key));
        const missing = expected.map(key).filter((k) => !loadedKeys.has(k));
        expect(
          missing,
          `${missing.length} of ${expected.length} rendered aliases not loaded by PgBouncer as rendered; its log: ${pgbouncerLogTail(pgbouncer)}`,
        ).toEqual([]);
        // Sorted arrays, not Sets: vitest compares Sets pairwise (quadratic).
        expect(loaded.sort(byName)).toEqual(expected.sort(byName));
        loadedAliases += loaded.length;

        if (group.some((c) => pgbouncerNeeded(c.options) !== undefined)) {
          preparedBundles += 1;
          expect(bundle.requires).toEqual({ pgbouncer: '1.21' });
          const unmet = unmetRequirements(bundle, host);
          if (preparedServed) expect(unmet).toBeUndefined();
          else expect(unmet).toMatch(/^the bundle requires pgbouncer >= 1\.21 \(host has 1\.\d+/);
        } else {
          expect(bundle.requires).toBeUndefined();
        }
      }
      expect(accepted.length).toBeGreaterThan(CASES * 0.6);
      expect(loadedAliases).toBeGreaterThan(accepted.length);
      expect(writerAliases).toBeGreaterThan(accepted.length * 0.2);
      expect(distinct).toHaveLength(accepted.length);
      expect(groups).toHaveLength(Math.ceil(accepted.length / BATCH));
      expect(preparedBundles).toBeGreaterThan(0);
    },
    LOAD_TIMEOUT_MS,
  );
});
