/**
 * Ports and paths every HAProxy host uses. The bundle is identical on every host (one sha),
 * so anything host-local is referenced in the HAProxy config through environment variables
 * that the host's HAProxy unit (or the local stack) sets. PgBouncer reaches each cluster
 * through HAProxy's TCP listener on the host's listen address (`host=` PGBOUNCER_LISTEN_HOST,
 * which the agent expands when it installs the include, as HAProxy expands the same variable
 * in its config): PgBouncer sends no SSLRequest over a unix socket, and its TLS to Aurora
 * must pass through HAProxy (docs/DESIGN.md "TLS").
 */
export const HOST_ENV = {
  /** Loopback address the per-cluster TCP listeners bind to (127.0.0.1 in AWS). */
  listenAddress: 'AURORA_HAPROXY_LISTEN_ADDR',
  /** Directory of the per-cluster unix sockets; PgBouncer's unix_socket_dir. */
  socketDir: 'AURORA_HAPROXY_SOCKET_DIR',
  /** Directory of HAProxy's stats socket and server-state file. */
  runDir: 'AURORA_HAPROXY_RUN_DIR',
  /** Port of the agent daemon's check listener (agent-check and postgresqlchk). */
  checkPort: 'AURORA_HAPROXY_CHECK_PORT',
  /** Directory holding the postgresqlchk command (HAProxy's external-check path). */
  binDir: 'AURORA_HAPROXY_BIN_DIR',
  /**
   * This host's Availability Zone (EC2 instance metadata placement/availability-zone; a host
   * setting locally). Read only by clusters with azAffinity; empty or unset: no reader is
   * in-zone, so those clusters use every reader.
   */
  availabilityZone: 'AURORA_HAPROXY_AZ',
  /**
   * `ip:port` of the DNS server for Aurora endpoint names; unset in AWS (the resolvers then
   * read /etc/resolv.conf: the VPC resolver). The config tests it with `.if defined(...)`.
   */
  nameserver: 'AURORA_HAPROXY_NAMESERVER',
} as const;

/** The `host=` value of every [databases] entry: the one host-local value of the include. */
export const PGBOUNCER_LISTEN_HOST = `\${${HOST_ENV.listenAddress}}`;

/** Default host ports. Cluster ports may not collide with these (see ReservedPorts). */
export const DEFAULT_HOST_PORTS = {
  pgbouncer: 6432,
  haproxyStats: 8404,
  agentCheck: 9876,
  /** HTTP readiness endpoint the NLB target group checks (fails until a bundle is applied). */
  agentReady: 9877,
} as const;

export const DEFAULT_RESERVED_PORTS: readonly number[] = Object.values(DEFAULT_HOST_PORTS);

export const CLUSTER_PORT_MIN = 1024;
export const CLUSTER_PORT_MAX = 65535;
