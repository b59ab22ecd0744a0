import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { PGBOUNCER_LISTEN_HOST } from '@aurora-haproxy/contract/host';
import type { HostValues } from '../config';

/**
 * The [databases] include as this host installs it: the bundle's text with its one
 * host-local value, `host=${AURORA_HAPROXY_LISTEN_ADDR}`, replaced by the host's listen
 * address (an IPv4 address checked when the agent config is read), exactly as HAProxy
 * expands the variable in the same bundle's haproxy.cfg. checkInclude refuses any other
 * host=, so nothing else in the text changes. Pure.
 */
export function installedInclude(bundle: Bundle, host: Pick<HostValues, 'listenAddress'>): string {
  return expandInclude(bundle.files.pgbouncerDatabases, host.listenAddress);
}

export function expandInclude(text: string, listenAddress: string): string {
  return text.split(`host=${PGBOUNCER_LISTEN_HOST}`).join(`host=${listenAddress}`);
}
