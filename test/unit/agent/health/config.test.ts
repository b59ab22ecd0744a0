import { describe, expect, it } from 'vitest';
import { parseHealthConfig } from '../../../../agent/health/config';

describe('health config', () => {
  it('fills defaults that fit an AWS host', () => {
    // Act
    const config = parseHealthConfig({});

    // Assess
    expect(config).toMatchObject({
      checkPort: 9876,
      checkAddress: '127.0.0.1',
      probeIntervalMs: 250,
      freshnessMs: 1500,
      credentials: { mode: 'none' },
      tls: { mode: 'disable' },
    });
  });

  it.each([
    [{ probeIntervalMs: 1000 }, 'probeIntervalMs'],
    [{ checkAddress: '0.0.0.0' }, 'checkAddress'],
    [{ credentials: { mode: 'pgpass', path: 'relative/pgpass' } }, 'credentials'],
    [{ credentials: { mode: 'password', password: 'x' } }, 'credentials'],
    [{ tls: { mode: 'verify-full' } }, 'tls'],
    [{ user: 'x; DROP' }, 'user'],
    [{ unknown: 1 }, 'unknown'],
    [{ credentials: { mode: 'iam', region: 'eu-west-1' } }, 'iam needs tls mode verify-full'],
  ])('refuses %j', (input, path) => {
    // Act
    const parse = () => parseHealthConfig(input);

    // Assess
    expect(parse).toThrow(path);
  });
});
