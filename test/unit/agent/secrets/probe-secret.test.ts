import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { describe, expect, it } from 'vitest';
import { SecretFormatError } from '../../../../agent/secrets/errors';
import { parseProbeSecret } from '../../../../agent/secrets/probe-secret';

describe('probe secret: parse', () => {
  it('reads {username, password} and ignores the rotation template fields', () => {
    // Act
    const secret = parseProbeSecret(
      JSON.stringify({
        engine: 'postgres',
        host: 'x.cluster-ro-abc.eu-west-1.rds.amazonaws.com',
        port: 5432,
        dbname: 'postgres',
        username: 'aurora_haproxy_health',
        password: 'n3w-pass"word',
      }),
    );

    // Assess
    expect(secret).toEqual({ username: 'aurora_haproxy_health', password: 'n3w-pass"word' });
    expect(parseProbeSecret('{"password":"x"}')).toEqual({ password: 'x' });
  });

  it.each([
    [undefined, /has no SecretString/],
    ['not json hunter2', /is not JSON/],
    ['["hunter2"]', /is not a JSON object/],
    ['"hunter2"', /is not a JSON object/],
    ['{"username":"probe"}', /has no string "password"/],
    ['{"password":""}', /has no string "password"/],
    ['{"password":"hunter2\\n"}', /"password" has a control character/],
    ['{"password":"hunter2\\u0000"}', /"password" has a control character/],
    [`{"password":"${'h'.repeat(1025)}"}`, /longer than 1024 bytes/],
    ['{"password":"hunter2","username":5}', /"username" that is not a non-empty string/],
    ['{"password":"hunter2","username":""}', /"username" that is not a non-empty string/],
    [`{"password":"hunter2","username":"${'u'.repeat(64)}"}`, /longer than 63 bytes/],
  ])('refuses %j without echoing it', (text, message) => {
    // Act
    let error: unknown;
    try {
      parseProbeSecret(text);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(error).toBeInstanceOf(SecretFormatError);
    expect(errorMessage(error)).toMatch(message);
    expect(errorMessage(error)).not.toContain('hunter2');
  });
});
