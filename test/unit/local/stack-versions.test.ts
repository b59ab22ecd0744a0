import { describe, expect, it } from 'vitest';
import { atLeast, parseVersion } from '../../support/stack-versions';

// Banners as the Debian 12 and Debian 13 packages print them (measured on both).
const BANNERS = {
  debian12: {
    haproxy: 'HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/\n',
    pgbouncer: 'PgBouncer 1.18.0\nlibevent 2.1.12-stable\nadns: c-ares 1.18.1\n',
    postgres: 'postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n',
  },
  debian13: {
    haproxy: 'HAProxy version 3.0.11-1+deb13u4 2026/10/15 - https://haproxy.org/\n',
    pgbouncer: 'PgBouncer 1.24.1\nlibevent 2.1.12-stable\n',
    postgres: 'postgres (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)\n',
  },
};

describe('stack versions (which version-specific tests a machine defines)', () => {
  it('reads major.minor from each banner of both releases', () => {
    // Act
    const read = Object.fromEntries(
      Object.entries(BANNERS).map(([release, b]) => [
        release,
        [
          parseVersion('HAProxy', b.haproxy),
          parseVersion('PgBouncer', b.pgbouncer),
          parseVersion('PostgreSQL', b.postgres),
        ].map((v) => `${v.major}.${v.minor}`),
      ]),
    );

    // Assess
    expect(read).toEqual({
      debian12: ['2.6', '1.18', '15.18'],
      debian13: ['3.0', '1.24', '17.12'],
    });
  });

  it('refuses a banner with no version of that product instead of guessing', () => {
    expect(() => parseVersion('HAProxy', 'bash: haproxy: command not found')).toThrow(
      /no HAProxy version/,
    );
    expect(() => parseVersion('PgBouncer', BANNERS.debian13.haproxy)).toThrow(/no PgBouncer/);
  });

  it('compares major then minor', () => {
    const v26 = parseVersion('HAProxy', BANNERS.debian12.haproxy);
    const v30 = parseVersion('HAProxy', BANNERS.debian13.haproxy);

    expect([
      atLeast(v26, 3, 0),
      atLeast(v30, 3, 0),
      atLeast(v26, 2, 6),
      atLeast(v26, 2, 8),
    ]).toEqual([false, true, true, false]);
  });
});
