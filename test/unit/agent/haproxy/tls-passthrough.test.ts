import { describe, expect, it } from 'vitest';
import { tlsPassthroughProblems } from '../../../../agent/haproxy/tls-passthrough';
import { bundleOf } from '../apply/fixtures';

describe('tlsPassthroughProblems (HAProxy passes PostgreSQL TLS through)', () => {
  it("accepts the renderer's config", () => {
    // Prepare
    const bundle = bundleOf([{ id: 'db-a', address: '10.0.0.1', port: 5432 }]);
    // Act + Assess
    expect(tlsPassthroughProblems(bundle.files.haproxy)).toEqual([]);
  });

  it('refuses TLS on a server, a bind, default-server, and global TLS defaults, naming each line', () => {
    // Prepare
    const config = [
      'global',
      '    ssl-default-server-options ssl-min-ver TLSv1.2',
      'listen aurora-orders',
      '    bind "127.0.0.1:6000" ssl crt /etc/haproxy/x.pem',
      '    default-server verify required ca-file /etc/aurora-haproxy/rds-ca.pem',
      '    server r01 10.0.0.1:5432 weight 100 ssl check-ssl',
      '    server r02 10.0.0.2:5432 weight 100 # ssl in a comment is fine',
    ].join('\n');
    // Act
    const problems = tlsPassthroughProblems(config);
    // Assess
    expect(problems).toEqual([
      'line 2: "ssl-default-server-options" configures TLS in HAProxy',
      'line 4: bind "127.0.0.1:6000" sets ssl, crt (HAProxy must pass TLS through)',
      'line 5: default-server verify sets verify, ca-file (HAProxy must pass TLS through)',
      'line 6: server r01 sets ssl, check-ssl (HAProxy must pass TLS through)',
    ]);
  });
});
