import { SecretFormatError } from './errors';
import { hasControlCharacter } from './text';

/**
 * The probe secret: JSON `{"username"?, "password"}` (the shape of RDS's and Secrets Manager's
 * rotation templates, whose other fields — engine, host, port, dbname — are ignored). Pass
 * conditions, else SecretFormatError naming the field, never its value:
 * 1. The text is a JSON object.
 * 2. `password` is a string of 1..PROBE_PASSWORD_MAX_BYTES bytes with no control character
 *    (libpq and the wire protocol end a string at NUL; a newline is a copy-paste accident).
 * 3. `username`, when present, is a string of 1..63 bytes with no control character.
 */
export interface ProbeSecret {
  username?: string;
  password: string;
}

export const PROBE_PASSWORD_MAX_BYTES = 1024;

export function parseProbeSecret(text: string | undefined): ProbeSecret {
  if (text === undefined) throw new SecretFormatError('has no SecretString');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SecretFormatError('is not JSON {username?, password}');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SecretFormatError('is not a JSON object {username?, password}');
  }
  const v = value as { username?: unknown; password?: unknown };
  if (typeof v.password !== 'string' || v.password === '') {
    throw new SecretFormatError('has no string "password"');
  }
  if (Buffer.byteLength(v.password) > PROBE_PASSWORD_MAX_BYTES) {
    throw new SecretFormatError(`"password" is longer than ${PROBE_PASSWORD_MAX_BYTES} bytes`);
  }
  if (hasControlCharacter(v.password))
    throw new SecretFormatError('"password" has a control character');
  if (v.username !== undefined) {
    if (typeof v.username !== 'string' || v.username === '') {
      throw new SecretFormatError('has a "username" that is not a non-empty string');
    }
    if (Buffer.byteLength(v.username) > 63 || hasControlCharacter(v.username)) {
      throw new SecretFormatError('"username" is longer than 63 bytes or has a control character');
    }
    return { username: v.username, password: v.password };
  }
  return { password: v.password };
}
