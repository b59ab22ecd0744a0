import { promises as dns } from 'node:dns';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { IPV4 } from '@aurora-haproxy/contract/patterns';
import { ENDPOINT_DOMAIN } from './endpoint-names';
import { type ManagedProcess, startProcess } from './process/managed-process';
import { freePort } from './process/ports';
import { waitFor } from './process/wait';

/**
 * The local stack's DNS server: Debian's dnsmasq on 127.0.0.1 and a free port, answering the
 * stack's endpoint names (endpoint-names.ts, `*.rds.amazonaws.test`) from a hosts file it
 * owns, with a 5 s TTL as Aurora's endpoints have. It forwards nothing (`--no-resolv`, no
 * `--server`): a name it does not know is NXDOMAIN inside the endpoint domain and REFUSED
 * elsewhere, so no query that reaches it ever leaves loopback. Started by the stack, ended by
 * PID (its own process group, managed-process.ts). `set` re-points a name (an instance
 * replaced behind its endpoint): the hosts file is rewritten, dnsmasq re-reads it on SIGHUP
 * (which also empties its cache), and `set` returns once dnsmasq answers the new address.
 */
export const DNSMASQ_BINARY = '/usr/sbin/dnsmasq';
/** Aurora's instance endpoints are served with a 5 s TTL. */
export const ENDPOINT_TTL_SECONDS = 5;

export interface LocalDnsServer {
  address: string;
  port: number;
  /** `address:port`, the value of the hosts' `nameserver` setting. */
  nameserver: string;
  pid: number;
  logFile: string;
  /** Point `name` at `ip` (adds it or re-points it); resolves once dnsmasq answers `ip`. */
  set(name: string, ip: string): Promise<void>;
  /** Forget `name` (NXDOMAIN from then on). */
  remove(name: string): Promise<void>;
  /** Serve exactly these records (name -> IPv4), with one reload; resolves once answered. */
  setRecords(records: ReadonlyMap<string, string>): Promise<void>;
  /** The A records dnsmasq answers for `name` (throws ENOTFOUND for an unknown name). */
  resolve(name: string): Promise<string[]>;
  /** Names asked so far (from dnsmasq's query log), in order. */
  queriedNames(): string[];
  /** The names currently served, name -> address. */
  records(): ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

export interface LocalDnsOptions {
  /** Directory of the hosts file and the log. */
  dir: string;
  address?: string;
  binary?: string;
}

export async function startLocalDns(options: LocalDnsOptions): Promise<LocalDnsServer> {
  const address = options.address ?? '127.0.0.1';
  mkdirSync(options.dir, { recursive: true });
  // dnsmasq started as root drops to user nobody before it reads the hosts file.
  chmodSync(options.dir, 0o755);
  const hostsFile = join(options.dir, 'endpoints.hosts');
  const logFile = join(options.dir, 'dnsmasq.log');
  const records = new Map<string, string>();
  const writeHosts = () => {
    const lines = [...records].map(([name, ip]) => `${ip} ${name}`);
    writeFileSync(hostsFile, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o644 });
  };
  writeHosts();

  let proc: ManagedProcess | undefined;
  let port = 0;
  let resolver: dns.Resolver | undefined;
  // A port free for TCP may still be taken for UDP: a start that fails is tried on another.
  for (let attempt = 1; attempt <= 3 && !resolver; attempt++) {
    port = await freePort(address);
    proc = startProcess({
      name: 'dnsmasq',
      command: options.binary ?? DNSMASQ_BINARY,
      args: [
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        `--listen-address=${address}`,
        '--bind-interfaces',
        `--port=${port}`,
        '--no-resolv',
        '--no-poll',
        '--no-hosts',
        `--addn-hosts=${hostsFile}`,
        // Everything under the endpoints' zone is answered here (unknown: NXDOMAIN).
        `--local=/${ENDPOINT_DOMAIN.split('.').slice(-3).join('.')}/`,
        `--local-ttl=${ENDPOINT_TTL_SECONDS}`,
        '--pid-file=',
        '--log-facility=-',
        '--log-queries',
      ],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      logFile,
    });
    const candidate = new dns.Resolver({ timeout: 500, tries: 1 });
    candidate.setServers([`${address}:${port}`]);
    const started = proc;
    try {
      await waitFor(
        `dnsmasq to answer on ${address}:${port}`,
        async () => {
          if (!started.running) throw new Error(`dnsmasq exited: ${tail(logFile)}`);
          try {
            await candidate.resolve4(`dns-ready.${ENDPOINT_DOMAIN}`);
          } catch (error) {
            // NXDOMAIN is an answer: dnsmasq is serving.
            if ((error as { code?: string }).code !== 'ENOTFOUND') throw error;
          }
          return true;
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );
      resolver = candidate;
    } catch (error) {
      await started.stop();
      if (attempt === 3) throw new Error(`dnsmasq did not start: ${errorMessage(error)}`);
    }
  }
  if (!proc || !resolver) throw new Error('dnsmasq did not start');
  const running = proc;
  const answering = resolver;

  const resolve = (name: string) => answering.resolve4(name);
  const answers = async (name: string, expect: string | undefined) => {
    try {
      const ips = await resolve(name);
      return expect !== undefined && ips.length === 1 && ips[0] === expect;
    } catch (error) {
      return expect === undefined && (error as { code?: string }).code === 'ENOTFOUND';
    }
  };
  /** Rewrite the hosts file, SIGHUP, and wait until each changed name answers as expected. */
  const reload = async (changed: ReadonlyMap<string, string | undefined>) => {
    writeHosts();
    running.kill('SIGHUP');
    for (const [name, expect] of changed) {
      await waitFor(
        `dnsmasq to answer ${name} with ${expect ?? 'NXDOMAIN'}`,
        () => answers(name, expect),
        { timeoutMs: 10_000, intervalMs: 20 },
      );
    }
  };
  const check = (name: string, ip: string) => {
    if (!IPV4.test(ip)) throw new Error(`DNS record for ${name}: ${ip} is not an IPv4 address`);
    // Instance endpoints, and the cluster (writer) and cluster-ro (reader) endpoints.
    const served = [ENDPOINT_DOMAIN, `cluster-${ENDPOINT_DOMAIN}`, `cluster-ro-${ENDPOINT_DOMAIN}`];
    if (!served.some((domain) => name.endsWith(`.${domain}`))) {
      throw new Error(
        `DNS record ${name}: the stack serves names under ${ENDPOINT_DOMAIN} (and its cluster- and cluster-ro- forms) only`,
      );
    }
  };

  return {
    address,
    port,
    nameserver: `${address}:${port}`,
    pid: running.pid,
    logFile,
    async set(name, ip) {
      check(name, ip);
      records.set(name, ip);
      await reload(new Map([[name, ip]]));
    },
    async remove(name) {
      records.delete(name);
      await reload(new Map([[name, undefined]]));
    },
    async setRecords(next) {
      for (const [name, ip] of next) check(name, ip);
      const changed = new Map<string, string | undefined>();
      for (const [name, ip] of next) if (records.get(name) !== ip) changed.set(name, ip);
      for (const name of records.keys()) if (!next.has(name)) changed.set(name, undefined);
      if (changed.size === 0) return;
      records.clear();
      for (const [name, ip] of next) records.set(name, ip);
      await reload(changed);
    },
    resolve,
    queriedNames() {
      const text = readLog(logFile);
      return [...text.matchAll(/query\[A+\] (\S+) from/g)].map((m) => m[1] ?? '');
    },
    records: () => new Map(records),
    stop: () => running.stop(),
  };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function tail(path: string): string {
  return readLog(path).trim().split('\n').slice(-5).join(' | ') || '(no log)';
}
