import { describe, expect, it } from 'vitest';
import { describeConfigCheckFailure, parseAlerts } from '../../../../../agent/haproxy/alerts';

const OUTPUT = `[NOTICE]   (12238) : haproxy version is 2.6.12-1+deb12u4
[NOTICE]   (12238) : path to executable is /usr/sbin/haproxy
[ALERT]    (12238) : config : parsing [/etc/haproxy/.haproxy.cfg.tmp-99-abc:13] : unknown keyword 'foo' in 'listen' section
[ALERT]    (12238) : config : Error(s) found in configuration file : /etc/haproxy/.haproxy.cfg.tmp-99-abc
[ALERT]    (12238) : config : Fatal errors found in configuration.
`;

describe('haproxy -c ALERT parsing', () => {
  it('keeps the real alerts, with line numbers and without pids, prefixes, temp paths or summaries', () => {
    // Prepare / Act
    const alerts = parseAlerts(OUTPUT);
    // Assess
    expect(alerts).toEqual(["parsing [line 13] : unknown keyword 'foo' in 'listen' section"]);
  });

  it('keeps the address of a bind alert (only [file:line] becomes [line N])', () => {
    // Prepare
    const output =
      '[ALERT]    (9029) : Binding [/etc/haproxy/haproxy.cfg:61] for proxy aurora-orders: cannot bind socket (Address already in use) for [127.0.0.9:15432]\n';
    // Act
    const alerts = parseAlerts(output);
    // Assess
    expect(alerts).toEqual([
      'Binding [line 61] for proxy aurora-orders: cannot bind socket (Address already in use) for [127.0.0.9:15432]',
    ]);
  });

  it('makes one readable error line', () => {
    // Prepare / Act
    const text = describeConfigCheckFailure(OUTPUT, 1);
    // Assess
    expect(text).toBe(
      "haproxy -c rejected the config: parsing [line 13] : unknown keyword 'foo' in 'listen' section",
    );
  });

  it('falls back to the output tail and exit code when there is no ALERT', () => {
    // Prepare / Act
    const text = describeConfigCheckFailure('segfault somewhere\n', 139);
    // Assess
    expect(text).toBe('haproxy -c failed (exit 139): segfault somewhere');
  });
});
