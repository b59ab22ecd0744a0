import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeCheckConf } from '../../../../agent/health/postgresqlchk-install';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeCheckConf', () => {
  it('leaves a check.conf that already holds the values untouched (read-only bin dir on a host)', () => {
    // Prepare: what user-data.sh installs
    dir = mkdtempSync(join(tmpdir(), 'checkconf-'));
    const path = join(dir, 'check.conf');
    writeFileSync(path, 'port=9876\naddress=127.0.0.1\n');
    const before = statSync(path);
    // Act
    writeCheckConf(dir, 9876, '127.0.0.1');
    // Assess: same inode (no rename over it), same content
    expect(statSync(path).ino).toBe(before.ino);
    expect(readFileSync(path, 'utf8')).toBe('port=9876\naddress=127.0.0.1\n');
  });

  it('rewrites a check.conf with other values', () => {
    // Prepare
    dir = mkdtempSync(join(tmpdir(), 'checkconf-'));
    writeFileSync(join(dir, 'check.conf'), 'port=1\naddress=127.0.0.1\n');
    // Act
    writeCheckConf(dir, 9876, '127.0.0.2');
    // Assess
    expect(readFileSync(join(dir, 'check.conf'), 'utf8')).toBe('port=9876\naddress=127.0.0.2\n');
  });

  it('names the file and the values when it cannot write', () => {
    // Prepare: a bin dir that does not exist stands for one the daemon cannot write
    dir = mkdtempSync(join(tmpdir(), 'checkconf-'));
    // Act + Assess
    expect(() => writeCheckConf(join(dir, 'missing'), 9876)).toThrow(
      /check\.conf \(port=9876 address=127\.0\.0\.1\)/,
    );
  });
});
