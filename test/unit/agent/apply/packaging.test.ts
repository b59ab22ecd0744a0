import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { HOST_ENV } from '@aurora-haproxy/contract/host';
import { REGISTRY_MAX_CLUSTERS } from '@aurora-haproxy/contract/registry';
import { describe, expect, it } from 'vitest';
import { hostEnvironment, parseAgentConfig } from '../../../../agent/config';
import { readerSlotCapacity } from '../../../../functions/render/slots';

const ROOT = resolve(import.meta.dirname, '../../../..');
const unit = (path: string) => readFileSync(resolve(ROOT, 'infra/systemd', path), 'utf8');
const directives = (text: string, key: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));

describe('systemd units', () => {
  it('sets every HOST_ENV variable but the optional nameserver on HAProxy, equal to the agent config defaults', () => {
    // Prepare
    const override = unit('haproxy.service.d/aurora-haproxy.conf');
    const defaults = hostEnvironment(parseAgentConfig({}).haproxy.host);
    // Act
    const env = Object.fromEntries(
      directives(override, 'Environment')
        .filter((v) => v.startsWith('AURORA_HAPROXY_'))
        .map((v) => v.split('=') as [string, string]),
    );
    // Assess
    // The nameserver has no default (the VPC resolver through resolv.conf); user-data adds a
    // drop-in of its own when the NAMESERVER setting is given.
    const required = Object.values(HOST_ENV).filter((name) => name !== HOST_ENV.nameserver);
    expect(Object.keys(env).sort()).toEqual(required.sort());
    expect(env).toEqual(defaults);
  });

  it('gives HAProxy the file limit a full registry needs, with room for connections', () => {
    // Prepare: per cluster of 15 readers (Aurora's maximum) its reader slots, the writer's
    // backup slot and two listeners, one descriptor each (HAProxy 2.6.12 asked 170,229 at
    // 5,000 clusters), and two descriptors per connection for at least 10,000 connections.
    const override = unit('haproxy.service.d/aurora-haproxy.conf');
    const perCluster = readerSlotCapacity(15) + 1 + 2;
    const needed = REGISTRY_MAX_CLUSTERS * perCluster + 2 * 10_000;
    // Act
    const limits = directives(override, 'LimitNOFILE');
    // Assess
    expect(limits).toHaveLength(1);
    expect(limits[0]).toMatch(/^\d+$/);
    expect(Number(limits[0])).toBeGreaterThanOrEqual(needed);
  });

  it('runs HAProxy in master-worker mode with the master socket the agent uses', () => {
    // Prepare
    const override = unit('haproxy.service.d/aurora-haproxy.conf');
    const config = parseAgentConfig({});
    // Act
    const start = directives(override, 'ExecStart').filter((v) => v !== '');
    // Assess
    expect(start).toHaveLength(1);
    expect(start[0]).toMatch(/-Ws /);
    expect(start[0]).toMatch(/-S \$\{MASTER_SOCKET\}/);
    expect(override).toContain(`MASTER_SOCKET=${config.haproxy.masterSocket}`);
  });

  it('orders the boot sync before HAProxy and PgBouncer, and restarts the daemon always', () => {
    // Prepare / Act
    const sync = unit('aurora-haproxy-sync.service');
    const daemon = unit('aurora-haproxy-agent.service');
    // Assess
    expect(directives(sync, 'Before')[0]).toMatch(/haproxy\.service.*pgbouncer\.service/);
    expect(directives(sync, 'Type')).toEqual(['oneshot']);
    expect(directives(sync, 'ExecStart')[0]).toMatch(/aurora-haproxy-agent\.mjs sync$/);
    expect(directives(daemon, 'Restart')).toEqual(['always']);
    expect(directives(daemon, 'ExecStart')[0]).toMatch(/aurora-haproxy-agent\.mjs serve$/);
  });
});
