import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalDnsServer, startLocalDns } from '../../../packages/local-stack/dns-server';
import { instanceEndpointName } from '../../../packages/local-stack/endpoint-names';
import type { PostgresClusterOptions } from '../../../packages/local-stack/postgres-cluster';
import { instanceIdFor } from '../../../packages/local-stack/rds-standin/simulated-nodes';
import { processCa } from '../../../packages/local-stack/tls/local-ca';
import type { ClusterSpec } from './ours-stack';

/**
 * Servers addressed by DNS names in a benchmark, as RDS describes them (`Endpoint.Address` =
 * the instance endpoint name): the local stack's DNS server (dnsmasq on loopback, 5 s TTL)
 * serves `<instance>.<hash>.<region>.rds.amazonaws.test` -> the node's address, ours' host
 * has it as its nameserver setting (HAProxy's resolvers, the daemon's lookups), the bundle
 * lists the names (HAProxy follows them with `fqdn`), and every node's certificate names its
 * endpoint (the daemon checks verify-full by name). BENCH_ADDRESSES=ip runs a figure the old
 * way (IP literals, no DNS server).
 */
export const USE_NAMES = process.env.BENCH_ADDRESSES !== 'ip';

export interface BenchNames {
  /** `ip:port` for startOursHost's nameserver. */
  nameserver: string;
  dns: LocalDnsServer;
  /**
   * The spec with every member addressed by its endpoint name, served first by the DNS server
   * (which is reloaded only when a name is new or moved).
   */
  named(spec: ClusterSpec): Promise<ClusterSpec>;
  stop(): Promise<void>;
}

/** startPostgresCluster's tls option: each node's certificate also names its endpoint. */
export function namedCertificates(clusterId: string): PostgresClusterOptions['tls'] {
  return {
    ca: processCa(),
    dnsNames: (node) => [instanceEndpointName(instanceIdFor(clusterId, node))],
  };
}

export async function startBenchNames(): Promise<BenchNames> {
  const dir = mkdtempSync(join(tmpdir(), 'ah-bench-dns-'));
  const dns = await startLocalDns({ dir });
  return {
    nameserver: dns.nameserver,
    dns,
    async named(spec) {
      const records = new Map(dns.records());
      let changed = false;
      const members = spec.members.map((m) => {
        const name = instanceEndpointName(m.instanceId);
        if (records.get(name) !== m.address) changed = true;
        records.set(name, m.address);
        return { ...m, address: name };
      });
      if (changed) await dns.setRecords(records);
      return { ...spec, members };
    },
    async stop() {
      await dns.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
