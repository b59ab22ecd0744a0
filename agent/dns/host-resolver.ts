import { lookup, Resolver } from 'node:dns/promises';

/**
 * How this host turns an Aurora instance endpoint name into an IPv4 address: the system
 * resolver (getaddrinfo: in AWS the VPC resolver), or, when the host setting
 * `haproxy.host.nameserver` names one, that nameserver alone, asked directly, the server
 * HAProxy's `aurora-dns` resolvers ask too (the local stack's DNS server). Used by apply (the
 * runtime API takes IPs: `set server … addr`) and by the health daemon's probes, so the agent,
 * the daemon and HAProxy see the same answer.
 */
export type HostResolver = (name: string) => Promise<string>;

export const systemResolver: HostResolver = async (name) =>
  (await lookup(name, { family: 4 })).address;

/** `ip:port` (or `ip`, port 53) -> a resolver that asks that server only. */
export function nameserverResolver(nameserver: string): HostResolver {
  const resolver = new Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([nameserver]);
  return async (name) => {
    const [first] = await resolver.resolve4(name);
    if (first === undefined) throw new Error(`${name} has no A record`);
    return first;
  };
}

export function hostResolverFor(nameserver: string | undefined): HostResolver {
  return nameserver === undefined ? systemResolver : nameserverResolver(nameserver);
}
