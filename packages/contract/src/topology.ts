import * as z from 'zod';
import { AVAILABILITY_ZONE, INSTANCE_CLASS, isServerAddress } from './patterns';
import { ClusterIdSchema, InstanceIdSchema } from './registry';

/**
 * What the RDS API says a cluster looks like. RDS responses are outside input: every
 * value that reaches a config file (address, port, ids) is validated by this schema.
 */
export const TopologyMemberSchema = z.strictObject({
  instanceId: InstanceIdSchema,
  address: z.string().refine(isServerAddress, { message: 'must be a DNS name or IPv4 address' }),
  port: z.number().int().min(1).max(65535),
  isWriter: z.boolean(),
  /** DBInstanceStatus, e.g. available, rebooting, modifying, deleting. */
  status: z.string().regex(/^[a-z-]{1,40}$/),
  instanceClass: z.string().regex(INSTANCE_CLASS),
  az: z.string().regex(AVAILABILITY_ZONE).optional(),
});

export const ClusterTopologySchema = z.strictObject({
  clusterId: ClusterIdSchema,
  /** DBCluster Status, e.g. available, failing-over, backing-up. */
  status: z.string().regex(/^[a-z-]{1,40}$/),
  engine: z.string().regex(/^[a-z0-9-]{1,40}$/),
  members: z.array(TopologyMemberSchema),
  observedAt: z.iso.datetime(),
  /** true when this is the last known good topology, served because the RDS API failed. */
  stale: z.boolean(),
  /** Why the topology is stale, or that the cluster was not found. */
  problem: z.string().max(500).optional(),
  /** The RDS API said DBClusterNotFound: reported, never silently emptied. */
  notFound: z.boolean().optional(),
});

export type TopologyMember = z.infer<typeof TopologyMemberSchema>;
export type ClusterTopology = z.infer<typeof ClusterTopologySchema>;
