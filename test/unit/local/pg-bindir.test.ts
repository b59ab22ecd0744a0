import { describe, expect, it } from 'vitest';
import {
  choosePgBinDir,
  findPgBinDir,
  PG_BINDIR_SETTING,
  PgBinDirError,
} from '../../../packages/local-stack/pg-bindir';

describe('choosePgBinDir (which PostgreSQL the local clusters run)', () => {
  it('takes the newest installed major, compared as versions, not as text', () => {
    // Prepare: Debian 12 with 17 added, an old 9.6, and a stray directory
    const installed = ['15', '9.6', '17', 'README', '16'];

    // Act
    const choice = choosePgBinDir(undefined, installed);

    // Assess
    expect(choice).toEqual({ dir: '/usr/lib/postgresql/17/bin' });
  });

  it('takes the only one installed: 15 on Debian 12, 17 on Debian 13', () => {
    expect(choosePgBinDir('', ['15'])).toEqual({ dir: '/usr/lib/postgresql/15/bin' });
    expect(choosePgBinDir(undefined, ['17'])).toEqual({ dir: '/usr/lib/postgresql/17/bin' });
  });

  it('lets the setting choose an older major over the newest', () => {
    expect(choosePgBinDir('/usr/lib/postgresql/15/bin/', ['15', '17'])).toEqual({
      dir: '/usr/lib/postgresql/15/bin',
    });
  });

  it('refuses a relative setting or one with ".." segments, naming the setting', () => {
    for (const bad of ['usr/lib/postgresql/17/bin', '/usr/lib/postgresql/../../tmp/bin', '.']) {
      // Act
      const choice = choosePgBinDir(bad, ['17']);

      // Assess
      expect(choice).toHaveProperty('problem');
      expect((choice as { problem: string }).problem).toContain(PG_BINDIR_SETTING);
    }
  });

  it('says what to install when no version is installed', () => {
    const choice = choosePgBinDir(undefined, ['README']);

    expect((choice as { problem: string }).problem).toMatch(/install .*postgresql.*\.ci\/setup/);
  });
});

describe('findPgBinDir (the setting checked against the file system)', () => {
  it('refuses a setting whose directory holds no postgres', () => {
    // Prepare: a directory that exists and holds no PostgreSQL
    const env = { [PG_BINDIR_SETTING]: '/usr/bin' };

    // Act + Assess
    expect(() => findPgBinDir(env)).toThrow(PgBinDirError);
    expect(() => findPgBinDir(env)).toThrow(/AURORA_HAPROXY_PG_BINDIR=\/usr\/bin holds no/);
  });
});
