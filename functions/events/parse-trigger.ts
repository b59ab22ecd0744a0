import * as z from 'zod';
import { UnknownTriggerError } from './errors';

/** What started a reconcile. */
export type Trigger =
  | {
      kind: 'rds';
      source: 'cluster' | 'instance';
      /** e.g. RDS-EVENT-0071 */
      eventId: string;
      /** Cluster or instance identifier, lowercase, `rds:` prefix removed. */
      sourceId: string;
      /** When RDS says the event happened (detail.Date, else the envelope's time). */
      at?: string;
      message?: string;
      /** detail.EventCategories, lowercase (e.g. failover, availability). */
      categories?: string[];
    }
  | { kind: 'schedule' }
  | { kind: 'admin'; reason: string };

export const ADMIN_SOURCE = 'aurora-haproxy.admin';

/**
 * EventBridge `RDS DB Cluster Event` / `RDS DB Instance Event`:
 * { source: 'aws.rds', detail-type, resources: [arn], detail: { EventCategories: [...],
 *   SourceType: 'CLUSTER' | 'DB_INSTANCE', SourceArn, Date, SourceIdentifier
 *   ('rds:my-cluster' or 'my-instance'), Message, EventID: 'RDS-EVENT-0071' } }.
 */
const RdsEventSchema = z.object({
  source: z.literal('aws.rds'),
  'detail-type': z.enum(['RDS DB Cluster Event', 'RDS DB Instance Event']),
  time: z.string().optional(),
  detail: z.object({
    Date: z.string().optional(),
    EventID: z.string().regex(/^RDS-EVENT-\d{4}$/),
    SourceIdentifier: z.string().min(1).max(200).optional(),
    SourceArn: z.string().max(400).optional(),
    SourceType: z.string().optional(),
    EventCategories: z.array(z.string().max(100)).max(20).optional(),
    Message: z.string().optional(),
  }),
});

const ScheduleEventSchema = z.object({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
});

const AdminInvokeSchema = z.object({
  source: z.literal(ADMIN_SOURCE),
  reason: z.string().min(1).max(200),
});

/** Identify the trigger; throws UnknownTriggerError for anything else. */
export function parseTrigger(event: unknown): Trigger {
  const rds = RdsEventSchema.safeParse(event);
  if (rds.success) {
    const { detail } = rds.data;
    const sourceId = sourceIdOf(detail.SourceIdentifier, detail.SourceArn);
    if (!sourceId) {
      throw new UnknownTriggerError(
        `RDS event ${detail.EventID} names no source (no SourceIdentifier or SourceArn)`,
      );
    }
    return {
      kind: 'rds',
      source: rds.data['detail-type'] === 'RDS DB Cluster Event' ? 'cluster' : 'instance',
      eventId: detail.EventID,
      sourceId,
      ...timeOf(detail.Date ?? rds.data.time),
      ...(detail.Message ? { message: detail.Message.slice(0, 300) } : {}),
      ...(detail.EventCategories?.length
        ? { categories: detail.EventCategories.map((c) => c.toLowerCase()) }
        : {}),
    };
  }
  if (ScheduleEventSchema.safeParse(event).success) return { kind: 'schedule' };
  const admin = AdminInvokeSchema.safeParse(event);
  if (admin.success) return { kind: 'admin', reason: admin.data.reason };
  const e = event as { source?: unknown; 'detail-type'?: unknown } | null;
  throw new UnknownTriggerError(
    `not a trigger of reconcile: source ${JSON.stringify(e?.source)}, detail-type ${JSON.stringify(e?.['detail-type'])}`,
  );
}

function timeOf(value: string | undefined): { at?: string } {
  const ms = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isNaN(ms) ? {} : { at: new Date(ms).toISOString() };
}

/** `rds:my-cluster` or `my-cluster` -> my-cluster; else the last part of the ARN. */
function sourceIdOf(sourceIdentifier?: string, sourceArn?: string): string | undefined {
  const raw = sourceIdentifier ?? sourceArn?.split(':').at(-1);
  const id = raw?.replace(/^rds:/, '').toLowerCase();
  return id || undefined;
}
