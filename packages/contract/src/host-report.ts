import * as z from 'zod';
import { SHA256_HEX } from './patterns';

/**
 * What each HAProxy host reports about itself (agent/report writes it; the admin status reads
 * it): per cluster and slot the server, HAProxy's state of it and the health daemon's reason,
 * sessions; the host's applied sha, HAProxy and PgBouncer versions and pool figures.
 *
 * Stored in its own table (infra/host-reports-table.json), one item per host, partition key
 * `host` = the instance's ARN. The instance profile may PutItem only where the leading key is
 * `${ec2:SourceInstanceARN}` (iam/instance-policy.yml), so a host can write its own record and
 * no other. The reader takes the host's identity from that key, never from the body.
 *
 * Every field is bounded (a hostile or broken host cannot make status unreadable or huge).
 */
export const HOST_REPORT_KEY = 'host';
/** Epoch seconds after which DynamoDB's TTL removes a report (a terminated host's). */
export const HOST_REPORT_TTL_ATTRIBUTE = 'expiresAt';
/** The report document itself, one JSON attribute (a map would cost more to validate). */
export const HOST_REPORT_BODY_ATTRIBUTE = 'report';
/** A report kept this long after its last write, then expired by TTL. */
export const HOST_REPORT_TTL_SECONDS = 24 * 3600;

export const INSTANCE_ARN =
  /^arn:aws(?:-[a-z]+)*:ec2:[a-z]{2}(?:-[a-z0-9]+)+:\d{12}:instance\/(i-[0-9a-f]{8,17})$/;
/** The local stack's simulated instances use the same ARN shape. */
export const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

export const SERVER_STATES = ['UP', 'DOWN', 'MAINT', 'DRAIN'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

const text = (max: number) => z.string().max(max);
const count = z.number().int().min(0).max(1_000_000_000);

export const SlotReportSchema = z.strictObject({
  /** HAProxy server name (r01.., w1; m01.. in a writer endpoint's listener). */
  slot: z.string().regex(/^[A-Za-z0-9_.-]{1,20}$/),
  /** Aurora instance in the slot (from the applied bundle); absent for a spare. */
  instanceId: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,63}$/)
    .optional(),
  /** member: a writer endpoint's slot (UP only while its server is the elected writer). */
  role: z.enum(['reader', 'writer', 'member']).optional(),
  state: z.enum(SERVER_STATES),
  /** Why: the health daemon's verdict reason, else HAProxy's last check status. */
  reason: text(200),
  sessions: count,
  /** HAProxy's failed-check counter of the slot (since the worker started). */
  checkFailures: count,
});

export const ClusterReportSchema = z.strictObject({
  clusterId: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,62}$/),
  backend: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/),
  slots: z.array(SlotReportSchema).max(64),
});

export const PoolReportSchema = z.strictObject({
  database: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/),
  user: z.string().max(63),
  clientsActive: count,
  clientsWaiting: count,
  serversActive: count,
  serversIdle: count,
  maxWaitMs: count,
});

/**
 * A rotating secret the host follows (agent/secrets): the version in use, since when, the
 * last poll, and why the secret's current version is not in use. Never a value.
 */
export const SecretReportSchema = z.strictObject({
  name: z.enum(['userlist', 'probe']),
  secretId: text(2048),
  versionId: z.string().max(64).nullable(),
  appliedAt: z.number().int().min(0).nullable(),
  checkedAt: z.number().int().min(0).nullable(),
  error: text(200).optional(),
});

export const HostReportSchema = z.strictObject({
  /** When the host sampled what it reports (epoch ms, host clock). */
  reportedAt: z.number().int().min(0),
  appliedSha256: z.string().regex(SHA256_HEX).nullable(),
  haproxyVersion: text(80).nullable(),
  pgbouncerVersion: text(80).nullable(),
  /** Why a part could not be read (HAProxy socket down, PgBouncer console refused). */
  problems: z.array(text(200)).max(5),
  clusters: z.array(ClusterReportSchema).max(500),
  pools: z.array(PoolReportSchema).max(1000),
  /** Absent on hosts that follow no secret (and on reports of older agents). */
  secrets: z.array(SecretReportSchema).max(4).optional(),
});

export type SlotReport = z.infer<typeof SlotReportSchema>;
export type ClusterReport = z.infer<typeof ClusterReportSchema>;
export type PoolReport = z.infer<typeof PoolReportSchema>;
export type SecretReport = z.infer<typeof SecretReportSchema>;
export type HostReport = z.infer<typeof HostReportSchema>;

/** The instance id in an instance ARN, or undefined when it is not one. */
export function instanceIdFromArn(arn: string): string | undefined {
  return INSTANCE_ARN.exec(arn)?.[1];
}

/**
 * The imbalance of sessions over readers: sessions of the busiest reader over those of the
 * idlest, an idle reader counting as 1 session (so 1 vs 0 is balanced, 10 vs 0 is 10).
 * Null with fewer than two readers (nothing to balance). The CLI and the hosts' metric
 * ReaderImbalance use this one definition.
 */
export function imbalanceRatio(sessions: readonly number[]): number | null {
  if (sessions.length < 2) return null;
  const max = Math.max(...sessions);
  const min = Math.min(...sessions);
  return Math.round((max / Math.max(min, 1)) * 100) / 100;
}
