import { SecretFormatError } from './errors';
import { hasControlCharacter } from './text';

/**
 * PgBouncer's auth_file (userlist.txt), as the userlist secret holds it: one
 * `"user" "password"` line per client user, a `"` inside a field written as `""`; empty lines
 * and `;` comment lines are allowed and dropped. The file PgBouncer reads is rendered from the
 * parsed entries (renderUserlist), so its bytes are always canonical.
 *
 * Why so strict: PgBouncer's loader (src/loader.c load_auth_file) stops at the first line it
 * cannot parse ("broken auth file") after clearing every password it knew, so one bad line
 * locks out every user after it while the host looks healthy. A field longer than its buffer
 * stops it the same way. Pass conditions of a secret (all must hold, else SecretFormatError
 * naming the line and the rule, never the value):
 * 1. No carriage return, NUL or other control character anywhere (C0 and DEL).
 * 2. Every other line is exactly `"user" "password"`: one space between, nothing after.
 * 3. The user name is 1..63 bytes (PostgreSQL's NAMEDATALEN) and not PgBouncer's admin user
 *    (its line is the host's, `"pgbouncer" ""`, trusted from loopback only).
 * 4. The password is 1..PASSWORD_MAX_BYTES bytes as written (PgBouncer 1.18's buffer is the
 *    smallest of the supported versions); an `md5…` value of 35 characters is md5 + 32 hex,
 *    and a `SCRAM-SHA-256$` value is a whole verifier (`SCRAM-SHA-256$<iterations>:<salt>$
 *    <StoredKey>:<ServerKey>`, base64), because PgBouncer takes either as a hash, not as text.
 * 5. No user twice; at least one user; at most USERLIST_MAX_ENTRIES.
 */
export interface UserlistEntry {
  user: string;
  password: string;
}

export const USERNAME_MAX_BYTES = 63;
/** Below PgBouncer's smallest password buffer (as written, quotes doubled) on 1.18..1.24. */
export const PASSWORD_MAX_BYTES = 995;
export const USERLIST_MAX_ENTRIES = 10_000;

const LINE = /^"((?:[^"]|"")*)" "((?:[^"]|"")*)"$/;
const BASE64 = '[A-Za-z0-9+/]+={0,2}';
const SCRAM_VERIFIER = new RegExp(
  `^SCRAM-SHA-256\\$[1-9][0-9]{0,9}:${BASE64}\\$${BASE64}:${BASE64}$`,
);
const MD5_HASH = /^md5[0-9a-f]{32}$/;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const unquote = (s: string) => s.replace(/""/g, '"');
const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

export function parseUserlist(text: string, adminUser = 'pgbouncer'): UserlistEntry[] {
  const entries: UserlistEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1}`;
    if (line.includes('\r')) throw new SecretFormatError(`${where} has a carriage return (CRLF)`);
    if (hasControlCharacter(line)) throw new SecretFormatError(`${where} has a control character`);
    if (line === '' || line.startsWith(';')) continue;
    const match = LINE.exec(line);
    if (!match) {
      throw new SecretFormatError(
        `${where} is not "user" "password" (double quotes, one space, a " in a field written "")`,
      );
    }
    const rawUser = match[1] ?? '';
    const rawPassword = match[2] ?? '';
    const user = unquote(rawUser);
    const password = unquote(rawPassword);
    if (user === '') throw new SecretFormatError(`${where} has an empty user name`);
    if (bytes(user) > USERNAME_MAX_BYTES) {
      throw new SecretFormatError(`${where}: user name longer than ${USERNAME_MAX_BYTES} bytes`);
    }
    if (user === adminUser) {
      throw new SecretFormatError(
        `${where}: user ${adminUser} is PgBouncer's admin console user, reserved to the host`,
      );
    }
    if (seen.has(user)) throw new SecretFormatError(`${where}: user ${user} is listed twice`);
    if (password === '') throw new SecretFormatError(`${where}: empty password`);
    if (bytes(rawPassword) > PASSWORD_MAX_BYTES) {
      throw new SecretFormatError(`${where}: password longer than ${PASSWORD_MAX_BYTES} bytes`);
    }
    if (password.startsWith('SCRAM-SHA-256$') && !SCRAM_VERIFIER.test(password)) {
      throw new SecretFormatError(`${where}: malformed SCRAM-SHA-256 verifier`);
    }
    if (/^md5/.test(password) && password.length === 35 && !MD5_HASH.test(password)) {
      throw new SecretFormatError(`${where}: malformed md5 hash (md5 + 32 lowercase hex)`);
    }
    seen.add(user);
    entries.push({ user, password });
    if (entries.length > USERLIST_MAX_ENTRIES) {
      throw new SecretFormatError(`more than ${USERLIST_MAX_ENTRIES} users`);
    }
  }
  if (entries.length === 0) throw new SecretFormatError('no user line');
  return entries;
}

/**
 * The auth_file PgBouncer reads: the admin console's own line first (trusted from loopback by
 * pg_hba, no password), then every client user, one canonical line each.
 */
export function renderUserlist(entries: readonly UserlistEntry[], adminUser = 'pgbouncer'): string {
  const lines = [
    `${quote(adminUser)} ""`,
    ...entries.map((e) => `${quote(e.user)} ${quote(e.password)}`),
  ];
  return `${lines.join('\n')}\n`;
}
