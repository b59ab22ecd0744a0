import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { IPV4 } from '@aurora-haproxy/contract/patterns';
import type { TlsConfig } from './config';
import { TlsConfigError } from './errors';

/**
 * The pg `ssl` option. verify-full: the server's certificate must chain to the RDS CA bundle
 * (path from config, read once at start so a missing file fails the daemon's start, not
 * every probe) and name the host we connect to (Node's default checkServerIdentity against
 * servername = the instance endpoint). `disable`: plain TCP, the local test stack only.
 */
export type PgSsl = false | ConnectionOptions;

export function loadTls(config: TlsConfig): (address: string) => PgSsl {
  if (config.mode === 'disable') return () => false;
  let ca: Buffer;
  try {
    ca = readFileSync(config.caBundlePath);
  } catch (cause) {
    throw new TlsConfigError(`cannot read the RDS CA bundle ${config.caBundlePath}`, { cause });
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new TlsConfigError(`${config.caBundlePath} holds no PEM certificate`);
  }
  // SNI must not carry an IP address (RFC 6066); Node then checks the IP against the SANs.
  return (address) =>
    IPV4.test(address)
      ? { ca, rejectUnauthorized: true }
      : { ca, rejectUnauthorized: true, servername: address };
}
