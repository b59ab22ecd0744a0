/**
 * HAProxy must pass PostgreSQL's TLS through untouched: PgBouncer sends its SSLRequest in-band
 * and verifies the reader's certificate against the RDS CA bundle (verify-ca), and clients'
 * TLS ends at PgBouncer. A bundle whose HAProxy config would terminate or originate TLS
 * itself (`ssl`, `crt`, `ca-file`, `verify`, … on a bind, server or default-server line, or
 * a global `ssl-default-*` setting) breaks that silently: HAProxy would answer the SSLRequest
 * with a TLS handshake PgBouncer does not expect, or re-encrypt to a reader with its own
 * idea of trust. Such a bundle is refused before anything changes, whatever `haproxy -c`
 * says of it. Pure.
 *
 * Pass condition (no problem): no bind/server/default-server/server-template line carries a
 * TLS keyword, and no line sets a global `ssl-default-…` or `ca-base`/`crt-base` option.
 */
const TLS_KEYWORDS = new Set([
  'ssl',
  'crt',
  'crt-list',
  'ca-file',
  'crl-file',
  'verify',
  'verifyhost',
  'sni',
  'check-ssl',
  'force-tlsv12',
  'force-tlsv13',
  'ssl-min-ver',
  'ssl-max-ver',
  'ciphers',
  'ciphersuites',
  'alpn',
]);
const LINE_KINDS = new Set(['bind', 'server', 'default-server', 'server-template']);
const GLOBAL_TLS = /^(?:ssl-default-(?:bind|server)-\S+|ca-base|crt-base)$/;

export function tlsPassthroughProblems(haproxyConfig: string): string[] {
  const problems: string[] = [];
  haproxyConfig.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const words = line.split(/\s+/);
    const kind = words[0] ?? '';
    if (GLOBAL_TLS.test(kind)) {
      problems.push(`line ${index + 1}: "${kind}" configures TLS in HAProxy`);
      return;
    }
    if (!LINE_KINDS.has(kind)) return;
    const found = words.slice(1).filter((w) => TLS_KEYWORDS.has(w));
    if (found.length > 0) {
      problems.push(
        `line ${index + 1}: ${kind} ${words[1] ?? ''} sets ${found.join(', ')} (HAProxy must pass TLS through)`,
      );
    }
  });
  return problems;
}
