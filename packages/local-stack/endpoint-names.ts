/**
 * Instance endpoint names of the simulated Aurora nodes, shaped like RDS's:
 * `<instance id>.<12 lowercase alphanumerics>.<region>.rds.amazonaws.test`. In AWS the 12
 * characters are fixed per account and region, so one constant stands for them here; the
 * `.test` TLD (RFC 2606) never resolves outside this machine. Shared by the stack's DNS
 * server (the names it serves) and the node certificates (their subjectAltName), so a
 * certificate always names what a client connects to.
 */
export const LOCAL_REGION = 'us-east-1';
export const ENDPOINT_HASH = 'cxlocal7stak';
export const ENDPOINT_DOMAIN = `${ENDPOINT_HASH}.${LOCAL_REGION}.rds.amazonaws.test`;

const INSTANCE_ID = /^[a-z][a-z0-9-]{0,62}$/;

export function instanceEndpointName(instanceId: string): string {
  if (!INSTANCE_ID.test(instanceId) || instanceId.endsWith('-') || instanceId.includes('--')) {
    throw new Error(`"${instanceId}" is not an RDS instance identifier`);
  }
  return `${instanceId}.${ENDPOINT_DOMAIN}`;
}

/** The cluster's writer (`cluster-`) and reader (`cluster-ro-`) endpoint names, as RDS's. */
export function clusterEndpointName(clusterId: string, kind: 'writer' | 'reader'): string {
  const prefix = kind === 'writer' ? 'cluster-' : 'cluster-ro-';
  return `${clusterId}.${prefix}${ENDPOINT_DOMAIN}`;
}
