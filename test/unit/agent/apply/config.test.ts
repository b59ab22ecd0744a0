import { describe, expect, it } from 'vitest';
import {
  AgentConfigError,
  haproxyRunFiles,
  hostEnvironment,
  parseAgentConfig,
} from '../../../../agent/config';

describe('agent config', () => {
  it('fills defaults, and the health section follows the agent values', () => {
    // Prepare
    const raw = {
      stateDir: '/var/lib/ah',
      haproxy: { host: { runDir: '/run/ah', checkPort: 9000 } },
      pgbouncer: {},
    };
    // Act
    const config = parseAgentConfig(raw);
    // Assess
    expect(config.haproxy.binary).toBe('/usr/sbin/haproxy');
    expect(haproxyRunFiles(config)).toEqual({
      statsSocket: '/run/ah/admin.sock',
      serverStateFile: '/run/ah/server-state',
    });
    expect(config.health).toMatchObject({
      stateDir: '/var/lib/ah',
      checkPort: 9000,
      statsSocketPath: '/run/ah/admin.sock',
      binDir: '/usr/local/lib/aurora-haproxy/bin',
    });
    expect(hostEnvironment(config.haproxy.host)).toMatchObject({
      AURORA_HAPROXY_RUN_DIR: '/run/ah',
      AURORA_HAPROXY_CHECK_PORT: '9000',
    });
  });

  it("passes the host's Availability Zone to HAProxy, empty when unknown, and refuses any other value", () => {
    // Act
    const known = parseAgentConfig({ haproxy: { host: { availabilityZone: 'eu-west-1b' } } });
    const unknown = parseAgentConfig({});
    const refused = ['eu west 1a', 'eu-west-1a\nx', '"eu-west-1a"', 'EU-WEST-1A', 'a'].map(
      (availabilityZone) => () => parseAgentConfig({ haproxy: { host: { availabilityZone } } }),
    );
    // Assess
    expect(hostEnvironment(known.haproxy.host).AURORA_HAPROXY_AZ).toBe('eu-west-1b');
    expect(hostEnvironment(unknown.haproxy.host).AURORA_HAPROXY_AZ).toBe('');
    for (const parse of refused) {
      expect(parse).toThrow(/haproxy\.host\.availabilityZone: must be an Availability Zone name/);
    }
  });

  it('passes a host nameserver to HAProxy (with its port), apply and the health daemon', () => {
    // Prepare
    const raw = { haproxy: { host: { nameserver: '127.0.0.53' } } };
    // Act
    const config = parseAgentConfig(raw);
    const without = parseAgentConfig({});
    // Assess
    expect(config.haproxy.host.nameserver).toBe('127.0.0.53:53');
    expect(hostEnvironment(config.haproxy.host).AURORA_HAPROXY_NAMESERVER).toBe('127.0.0.53:53');
    expect(config.health.nameserver).toBe('127.0.0.53:53');
    // None in AWS: HAProxy then reads resolv.conf (the config tests the variable is defined).
    expect(hostEnvironment(without.haproxy.host)).not.toHaveProperty('AURORA_HAPROXY_NAMESERVER');
    expect(without.health.nameserver).toBeUndefined();
  });

  it("the readiness endpoint checks PgBouncer through the agent's admin console settings", () => {
    // Prepare
    const raw = {
      pgbouncer: { admin: { host: '127.0.0.5', port: 7432 } },
      health: { readiness: {} },
    };
    // Act
    const config = parseAgentConfig(raw);
    const without = parseAgentConfig({});
    // Assess
    expect(config.pgbouncer.binary).toBe('/usr/sbin/pgbouncer');
    expect(config.health.readiness).toMatchObject({
      address: '0.0.0.0',
      pgbouncer: { host: '127.0.0.5', port: 7432, user: 'pgbouncer' },
    });
    expect(without.health.readiness).toBeUndefined();
  });

  it.each([
    ['a relative path', { haproxy: { configPath: 'etc/haproxy.cfg' } }, /haproxy.configPath/],
    [
      'a listen address that is not IPv4',
      { haproxy: { host: { listenAddress: 'x; y' } } },
      /listenAddress/,
    ],
    [
      'a nameserver that is a name',
      { haproxy: { host: { nameserver: 'dns.example' } } },
      /haproxy.host.nameserver/,
    ],
    [
      'a nameserver with a line break',
      { haproxy: { host: { nameserver: '127.0.0.1:53\n    nameserver x 1.2.3.4:53' } } },
      /haproxy.host.nameserver/,
    ],
    [
      'a nameserver port out of range',
      { haproxy: { host: { nameserver: '127.0.0.1:70000' } } },
      /haproxy.host.nameserver/,
    ],
    ['an unknown key', { haproxy: {}, colour: 'blue' }, /colour/],
    ['a bad health field', { health: { probeIntervalMs: 5 } }, /health.probeIntervalMs/],
  ])('rejects %s with an error naming the field', (_name, raw, pattern) => {
    // Prepare / Act / Assess
    expect(() => parseAgentConfig(raw, 'agent config x')).toThrow(AgentConfigError);
    expect(() => parseAgentConfig(raw, 'agent config x')).toThrow(pattern);
  });
});
