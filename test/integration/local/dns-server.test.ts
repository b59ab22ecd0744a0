import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_ENV } from '@aurora-haproxy/contract/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRuntimeCommands } from '../../../agent/apply/runtime-plan';
import { nameserverResolver } from '../../../agent/dns/host-resolver';
import { HaproxyRuntimeApi } from '../../../agent/haproxy/runtime-api';
import { ADMIN, rowFqdn, type ServerStateRow } from '../../../agent/haproxy/servers-state';
import { renderBundle } from '../../../functions/render/render-bundle';
import { type LocalDnsServer, startLocalDns } from '../../../packages/local-stack/dns-server';
import { instanceEndpointName } from '../../../packages/local-stack/endpoint-names';
import {
  type ManagedProcess,
  startProcess,
} from '../../../packages/local-stack/process/managed-process';
import { freePorts } from '../../../packages/local-stack/process/ports';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { createHostEnv, HAPROXY_BIN, type HostEnv } from '../../support/haproxy-check';
import {
  FIXED_NOW,
  member,
  registryCluster,
  topologies,
  topology,
} from '../../unit/render/fixtures';

/**
 * The local stack's DNS server (dnsmasq) and what uses it: the names it serves, re-pointed
 * names, nothing forwarded; a real HAProxy running a rendered config with the host nameserver
 * set (servers by name get their address from it and follow a re-pointed name without a
 * reload); and the agent's runtime path filling a spare slot with a name (`set server … fqdn`)
 * so the slot follows the name too.
 */
const BACKEND = 'aurora-dnsrt';
let clusterPort = 0;

/** The render input: the cluster with two readers by name (and `extra` members). */
function input(extra: ReturnType<typeof member>[] = []) {
  return {
    clusters: [registryCluster('dnsrt', clusterPort, { checkMode: 'external' as const })],
    topologies: topologies(
      topology('dnsrt', [
        member('dnsrt-0', '127.0.0.1', { isWriter: true, port: 1 }),
        member('dnsrt-1', instanceEndpointName('dnsrt-1'), { port: 15432 }),
        member('dnsrt-2', instanceEndpointName('dnsrt-2'), { port: 15433 }),
        ...extra,
      ]),
    ),
  };
}

describe('local DNS server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dns-server-'));
  let dns: LocalDnsServer;
  let haproxy: ManagedProcess | undefined;
  let env: HostEnv;
  let runtime: HaproxyRuntimeApi;
  const a = instanceEndpointName('dnsrt-1');
  const b = instanceEndpointName('dnsrt-2');
  const spare = instanceEndpointName('dnsrt-3');

  beforeAll(async () => {
    chmodSync(dir, 0o755);
    dns = await startLocalDns({ dir: join(dir, 'dns') });
    await dns.setRecords(
      new Map([
        [a, '127.0.0.1'],
        [b, '127.0.0.1'],
        [spare, '127.0.0.1'],
      ]),
    );
    const [checkPort, port] = await freePorts(2);
    const listenAddress = `127.78.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    env = createHostEnv(dir, {
      [HOST_ENV.listenAddress]: listenAddress,
      [HOST_ENV.checkPort]: String(checkPort),
      [HOST_ENV.nameserver]: dns.nameserver,
    });
    writeFileSync(join(env[HOST_ENV.binDir], 'postgresqlchk'), '#!/bin/sh\nexit 0\n', {
      mode: 0o755,
    });
    // Two readers by name and spare slots; health checks by an external command that passes.
    clusterPort = port as number;
    const bundle = renderBundle(input(), FIXED_NOW);
    const config = join(dir, 'haproxy.cfg');
    writeFileSync(config, bundle.files.haproxy);
    haproxy = startProcess({
      name: 'haproxy-dns',
      command: HAPROXY_BIN,
      args: ['-W', '-db', '-f', config],
      env: { PATH: process.env.PATH, ...env },
      logFile: join(dir, 'haproxy.log'),
    });
    runtime = new HaproxyRuntimeApi(join(env[HOST_ENV.runDir], 'admin.sock'));
    const started = haproxy;
    await waitFor('haproxy to answer on its admin socket', async () => {
      if (!started.running) throw new Error('haproxy exited');
      await runtime.command('show info');
      return true;
    });
  });

  afterAll(async () => {
    await haproxy?.stop();
    await dns?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const row = async (server: string): Promise<ServerStateRow> => {
    const state = await runtime.showServersState(BACKEND);
    const found = state.rows.find((r) => r.server === server);
    if (!found) throw new Error(`no ${BACKEND}/${server} in HAProxy`);
    return found;
  };

  it('answers its names, re-points and forgets them, and forwards nothing', async () => {
    // Prepare
    const resolve = nameserverResolver(dns.nameserver);
    const name = instanceEndpointName('dnsrt-9');
    // Act
    await dns.set(name, '127.0.0.9');
    const first = await resolve(name);
    await dns.set(name, '127.0.0.10');
    const second = await resolve(name);
    await dns.remove(name);
    const gone = await resolve(name).catch((error: { code?: string }) => error.code);
    const outside = await resolve('example.com').catch((error: { code?: string }) => error.code);
    // Assess
    expect([first, second]).toEqual(['127.0.0.9', '127.0.0.10']);
    expect(gone).toBe('ENOTFOUND');
    // Not forwarded anywhere: dnsmasq has no upstream and refuses names outside its domain.
    expect(outside).toBe('EREFUSED');
    expect(dns.queriedNames()).toContain('example.com');
  });

  it('gives HAProxy the addresses of servers configured by name, from this server only', async () => {
    // Act
    const r01 = await waitFor('r01 to get its address from the stack DNS', async () => {
      const r = await row('r01');
      return r.address === '127.0.0.1' ? r : undefined;
    });
    // Assess
    expect(rowFqdn(r01)).toBe(a);
    expect(dns.queriedNames()).toContain(a);
  });

  it('follows a re-pointed name without a reload', async () => {
    // Prepare
    const workerBefore = (await runtime.command('show info')).match(/^Pid: (\d+)/m)?.[1];
    // Act
    const t0 = Date.now();
    await dns.set(b, '127.0.0.2');
    const moved = await waitFor(
      'r02 to follow its re-pointed name',
      async () => ((await row('r02')).address === '127.0.0.2' ? Date.now() - t0 : undefined),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const workerAfter = (await runtime.command('show info')).match(/^Pid: (\d+)/m)?.[1];
    // Assess
    expect(workerAfter).toBe(workerBefore);
    expect((await row('r02')).port).toBe(15433);
    console.log(`HAProxy followed a re-pointed name after ${moved} ms`);
  });

  it("fills a spare slot by name through the agent's runtime plan; the slot follows the name", async () => {
    // Prepare: the next bundle adds a reader by name; HAProxy's live rows are the current state.
    const previous = renderBundle(input(), FIXED_NOW);
    const next = renderBundle(
      { ...input([member('dnsrt-3', spare, { port: 15434 })]), previous },
      FIXED_NOW,
    );
    const slot = next.clusters[0]?.servers.find((s) => s.instanceId === 'dnsrt-3')?.name;
    if (!slot) throw new Error('dnsrt-3 got no slot');
    const live = (await runtime.showServersState(BACKEND)).rows;
    const plan = planRuntimeCommands({
      previous,
      next,
      live,
      resolved: new Map([
        [a, (await row('r01')).address],
        [b, (await row('r02')).address],
        [spare, '127.0.0.1'],
      ]),
    });
    // Act
    for (const command of plan.commands) await runtime.run(command);
    const filled = await row(slot);
    await dns.set(spare, '127.0.0.3');
    const followed = await waitFor(
      `${slot} to follow its name`,
      async () => {
        const r = await row(slot);
        return r.address === '127.0.0.3' ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    // Assess: only the new slot changed; it kept the address `addr` gave it, then followed.
    expect(plan.commands.every((c) => c.server === slot)).toBe(true);
    expect(plan.commands.map((c) => c.kind)).toContain('fqdn');
    expect(rowFqdn(filled)).toBe(spare);
    expect(filled.address).toBe('127.0.0.1');
    expect(followed.adminState & (ADMIN.forcedMaint | ADMIN.resolutionMaint)).toBe(0);
    expect(followed.port).toBe(15434);
  });
});
