import {
  type Bundle,
  bundleSha256,
  parseBundle,
  sealBundle,
} from '@aurora-haproxy/contract/bundle';
import { describe, expect, it } from 'vitest';
import { unmetRequirements, versionAtLeast } from '../../../../agent/apply/versions';
import { bundleOf } from './fixtures';

const withRequires = (bundle: Bundle, requires: Bundle['requires']): Bundle =>
  sealBundle({ ...bundle, requires }, new Date(bundle.createdAt));

describe('versions and bundle requirements', () => {
  it('compares major.minor.patch, ignoring distribution suffixes', () => {
    // Act + Assess
    expect(versionAtLeast('2.6.12-1+deb12u4', '2.6')).toBe(true);
    expect(versionAtLeast('1.18.0', '1.21')).toBe(false);
    expect(versionAtLeast('1.24.1', '1.21')).toBe(true);
    expect(versionAtLeast('3.0.11', '3.0.11')).toBe(true);
    expect(versionAtLeast('3.0.10', '3.0.11')).toBe(false);
    expect(versionAtLeast('garbage', '1.0')).toBe(false);
  });

  it('refuses a bundle needing a newer PgBouncer with a clear error, accepts it on a new enough host', () => {
    // Prepare
    const bundle = withRequires(bundleOf([{ id: 'db-a', address: '10.0.0.1', port: 5432 }]), {
      pgbouncer: '1.21',
    });
    // Act
    const old = unmetRequirements(bundle, { haproxy: '2.6.12', pgbouncer: '1.18.0' });
    const unknown = unmetRequirements(bundle, { haproxy: '2.6.12' });
    const fine = unmetRequirements(bundle, { haproxy: '3.0.11', pgbouncer: '1.24.1' });
    // Assess
    expect(old).toBe('the bundle requires pgbouncer >= 1.21 (host has 1.18.0); nothing changed');
    expect(unknown).toMatch(/pgbouncer >= 1.21 \(this host's version is unknown\)/);
    expect(fine).toBeUndefined();
  });

  it('keeps the sha of a bundle without requires (backward compatible) and hashes requires when present', () => {
    // Prepare
    const plain = bundleOf([{ id: 'db-a', address: '10.0.0.1', port: 5432 }]);
    const { sha256: _sha, createdAt: _at, ...content } = plain;
    // Act
    const required = withRequires(plain, { pgbouncer: '1.21' });
    // Assess: the sha of a bundle made before `requires` is what it was (4 fields hashed)
    expect(bundleSha256({ ...content, requires: undefined })).toBe(plain.sha256);
    expect(required.sha256).not.toBe(plain.sha256);
    expect(parseBundle(JSON.stringify(required)).requires).toEqual({ pgbouncer: '1.21' });
    expect(() =>
      parseBundle(JSON.stringify({ ...required, requires: { pgbouncer: '1.21; drop' } })),
    ).toThrow(/requires\.pgbouncer/);
  });
});
