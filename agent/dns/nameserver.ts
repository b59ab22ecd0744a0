import { IPV4 } from '@aurora-haproxy/contract/patterns';
import * as z from 'zod';

/**
 * The host setting naming the DNS server for Aurora endpoint names: `ip` or `ip:port`,
 * normalized to `ip:port` (HAProxy's `nameserver` line needs the port; `ip` means 53).
 * One schema for the agent config (haproxy.host.nameserver) and the health daemon's section.
 */
const NAMESERVER = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/;

function validNameserver(value: string): boolean {
  const [, ip, port] = NAMESERVER.exec(value) ?? [];
  return (
    ip !== undefined && IPV4.test(ip) && (port === undefined || (+port >= 1 && +port <= 65535))
  );
}

export const NameserverSchema = z
  .string()
  .refine(validNameserver, 'must be an IPv4 address, optionally with :port (1-65535)')
  .transform((value) => (value.includes(':') ? value : `${value}:53`));
