import { INSTANCE_ARN } from '@aurora-haproxy/contract/host-report';
import * as z from 'zod';

/**
 * The `report` section of the agent config: where the health daemon reports this host's view
 * (packages/contract/src/host-report.ts) and where it writes its metrics. Absent: no reporting
 * (tests, a host without the reports table).
 *
 * Rate: HAProxy and the daemon are sampled every `sampleMs` (local, cheap); a report is
 * written when a server's state changed (at most one write per `minWriteMs`) and at least
 * every `heartbeatMs`. Defaults: at most 1 write/s while states flap, 0.2 write/s when
 * steady; status calls a report older than 30 s stale (6 missed heartbeats).
 */
export const ReportMetricsConfigSchema = z.strictObject({
  /** EMF lines are appended here; the CloudWatch agent ships the file (user data). */
  emfPath: z.string().regex(/^\/[A-Za-z0-9._/-]*$/, 'must be an absolute path'),
  namespace: z
    .string()
    .regex(/^[A-Za-z0-9._/#:-]{1,255}$/)
    .default('AuroraHAProxy'),
  /** Dimension `Fleet` on every metric: the Auto Scaling group name. */
  fleet: z.string().regex(/^[A-Za-z0-9._-]{1,255}$/),
  /** One set of gauges per interval (CloudWatch's standard resolution is 60 s). */
  flushMs: z.number().int().min(1000).max(300_000).default(60_000),
  /** The EMF file is rotated to <emfPath>.1 past this size (bounded disk use). */
  maxBytes: z
    .number()
    .int()
    .min(4096)
    .max(1024 ** 3)
    .default(50 * 1024 ** 2),
});

export const ReportConfigSchema = z
  .strictObject({
    /** The host reports table (its partition key is the instance ARN). */
    tableName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name'),
    region: z
      .string()
      .regex(/^[a-z0-9-]{1,30}$/)
      .optional(),
    /** Local stack only. */
    endpoint: z.url().optional(),
    /** This instance's ARN: the only key its IAM policy lets it write (ec2:SourceInstanceARN). */
    instanceArn: z.string().regex(INSTANCE_ARN, 'must be an EC2 instance ARN'),
    sampleMs: z.number().int().min(200).max(10_000).default(1000),
    minWriteMs: z.number().int().min(500).max(60_000).default(1000),
    heartbeatMs: z.number().int().min(1000).max(60_000).default(5000),
    metrics: ReportMetricsConfigSchema.optional(),
  })
  .refine((c) => c.minWriteMs <= c.heartbeatMs, {
    message: 'minWriteMs must not exceed heartbeatMs',
    path: ['minWriteMs'],
  });

export type ReportConfig = z.infer<typeof ReportConfigSchema>;
export type ReportConfigInput = z.input<typeof ReportConfigSchema>;
export type ReportMetricsConfig = z.infer<typeof ReportMetricsConfigSchema>;
