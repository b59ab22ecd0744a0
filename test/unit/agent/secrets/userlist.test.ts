import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { describe, expect, it } from 'vitest';
import { SecretFormatError } from '../../../../agent/secrets/errors';
import {
  PASSWORD_MAX_BYTES,
  parseUserlist,
  renderUserlist,
} from '../../../../agent/secrets/userlist';

const SCRAM =
  'SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$dGhpc2lzYXN0b3JlZGtleTMyYnl0ZXNsb25n=:c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5MzI=';

describe('userlist secret: parse and render', () => {
  it('parses users with plain, md5 and SCRAM passwords, escaped quotes, comments and blank lines', () => {
    // Prepare
    const text = [
      '; clients of the orders cluster',
      '"app" "s3cret"',
      '',
      '"report""er" "pa""ss"',
      `"legacy" "md5${'a'.repeat(32)}"`,
      `"scram" "${SCRAM}"`,
      '',
    ].join('\n');

    // Act
    const entries = parseUserlist(text);

    // Assess
    expect(entries).toEqual([
      { user: 'app', password: 's3cret' },
      { user: 'report"er', password: 'pa"ss' },
      { user: 'legacy', password: `md5${'a'.repeat(32)}` },
      { user: 'scram', password: SCRAM },
    ]);
  });

  it('renders the admin line first and canonical lines that parse back to the same entries', () => {
    // Prepare
    const entries = parseUserlist('"a""b" "x""y z"\n"c" "d"');

    // Act
    const text = renderUserlist(entries);

    // Assess
    expect(text).toBe('"pgbouncer" ""\n"a""b" "x""y z"\n"c" "d"\n');
    expect(parseUserlist(text.split('\n').slice(1).join('\n'))).toEqual(entries);
  });

  it.each([
    ['"app" "pw"\r\n', /line 1 has a carriage return/],
    ['"app" "p\tw"', /line 1 has a control character/],
    ['"app" "p\u0000w"', /line 1 has a control character/],
    ['"app" "pw" trailing', /line 1 is not "user" "password"/],
    ['"app"  "pw"', /line 1 is not "user" "password"/],
    [' "app" "pw"', /line 1 is not "user" "password"/],
    ['"ap"p" "pw"', /line 1 is not "user" "password"/],
    ['app pw', /line 1 is not "user" "password"/],
    ['{"app": "pw"}', /line 1 is not "user" "password"/],
    ['"app" "pw"\n"app" "other"', /line 2: user app is listed twice/],
    ['"" "pw"', /line 1 has an empty user name/],
    ['"app" ""', /line 1: empty password/],
    ['"pgbouncer" "pw"', /line 1: user pgbouncer is PgBouncer's admin console user/],
    [`"${'u'.repeat(64)}" "pw"`, /line 1: user name longer than 63 bytes/],
    [`"app" "${'p'.repeat(PASSWORD_MAX_BYTES + 1)}"`, /line 1: password longer than/],
    ['"app" "SCRAM-SHA-256$4096:salt"', /line 1: malformed SCRAM-SHA-256 verifier/],
    [`"app" "md5${'z'.repeat(32)}"`, /line 1: malformed md5 hash/],
    ['', /no user line/],
    ['; only a comment\n\n', /no user line/],
  ])('refuses %j, naming the line and the rule, never the value', (text, message) => {
    // Act
    let error: unknown;
    try {
      parseUserlist(text);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(error).toBeInstanceOf(SecretFormatError);
    expect(errorMessage(error)).toMatch(message);
    expect(errorMessage(error)).not.toMatch(/\bpw\b|other|trailing|salt/);
  });

  it('counts escaped quotes in the password length as PgBouncer does (its buffer holds them)', () => {
    // Prepare: under the limit unescaped, over it as written
    const half = '"'.repeat(Math.ceil((PASSWORD_MAX_BYTES + 1) / 2));
    const text = `"app" "${half.replace(/"/g, '""')}"`;

    // Act + Assess
    expect(() => parseUserlist(text)).toThrow(/password longer than/);
  });

  it('reserves the admin user the host configures, not only "pgbouncer"', () => {
    // Act + Assess
    expect(() => parseUserlist('"console" "pw"', 'console')).toThrow(/user console is PgBouncer/);
    expect(parseUserlist('"pgbouncer" "pw"', 'console')).toHaveLength(1);
  });
});
