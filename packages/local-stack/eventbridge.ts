import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';

/**
 * EventBridge stand-in: turns a topology change made by the local stack into the RDS event
 * JSON that EventBridge delivers to the reconcile function in AWS (source aws.rds, detail-type
 * "RDS DB Cluster Event" / "RDS DB Instance Event", detail with EventID, SourceIdentifier,
 * SourceArn, …), and delivers it — or a scheduled event ("Scheduled Event", source
 * aws.events) — to a target (the reconcile handler run in-process). Delivery is asynchronous
 * like EventBridge's; the returned promise ends when the target's run has ended.
 */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '123456789012';

export type TopologyChange =
  | { kind: 'failover-started'; clusterId: string; targetInstanceId: string }
  | { kind: 'failover-completed'; clusterId: string; newWriterInstanceId: string }
  | { kind: 'instance-created'; instanceId: string }
  | { kind: 'instance-deleted'; instanceId: string }
  | { kind: 'cluster-deleted'; clusterId: string };

export interface RdsEventDetail {
  EventCategories: string[];
  SourceType: 'CLUSTER' | 'DB_INSTANCE';
  SourceArn: string;
  Date: string;
  Message: string;
  SourceIdentifier: string;
  EventID: string;
  Tags: Record<string, string>;
}

export type RdsEvent = EventBridgeEvent<
  'RDS DB Cluster Event' | 'RDS DB Instance Event',
  RdsEventDetail
>;
export type ScheduledEvent = EventBridgeEvent<'Scheduled Event', Record<string, never>>;

const clusterArn = (id: string) => `arn:aws:rds:${LOCAL_REGION}:${LOCAL_ACCOUNT}:cluster:${id}`;
const instanceArn = (id: string) => `arn:aws:rds:${LOCAL_REGION}:${LOCAL_ACCOUNT}:db:${id}`;

interface EventSpec {
  clusterEvent: boolean;
  id: string;
  eventId: string;
  category: string;
  message: string;
}

function specOf(change: TopologyChange): EventSpec {
  switch (change.kind) {
    case 'failover-started':
      return {
        clusterEvent: true,
        id: change.clusterId,
        eventId: 'RDS-EVENT-0073',
        category: 'failover',
        message: `Started cross AZ failover to DB instance: ${change.targetInstanceId}`,
      };
    case 'failover-completed':
      return {
        clusterEvent: true,
        id: change.clusterId,
        eventId: 'RDS-EVENT-0071',
        category: 'failover',
        message: `Completed failover to DB instance: ${change.newWriterInstanceId}`,
      };
    case 'cluster-deleted':
      return {
        clusterEvent: true,
        id: change.clusterId,
        eventId: 'RDS-EVENT-0171',
        category: 'deletion',
        message: 'DB cluster deleted',
      };
    case 'instance-created':
      return {
        clusterEvent: false,
        id: change.instanceId,
        eventId: 'RDS-EVENT-0005',
        category: 'creation',
        message: 'DB instance created',
      };
    case 'instance-deleted':
      return {
        clusterEvent: false,
        id: change.instanceId,
        eventId: 'RDS-EVENT-0003',
        category: 'deletion',
        message: 'DB instance deleted',
      };
  }
}

/** The RDS event, exactly as EventBridge delivers it to a Lambda target. */
export function rdsEvent(change: TopologyChange, now = new Date()): RdsEvent {
  const spec = specOf(change);
  const arn = spec.clusterEvent ? clusterArn(spec.id) : instanceArn(spec.id);
  const time = now.toISOString();
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': spec.clusterEvent ? 'RDS DB Cluster Event' : 'RDS DB Instance Event',
    source: 'aws.rds',
    account: LOCAL_ACCOUNT,
    time: `${time.slice(0, 19)}Z`,
    region: LOCAL_REGION,
    resources: [arn],
    detail: {
      EventCategories: [spec.category],
      SourceType: spec.clusterEvent ? 'CLUSTER' : 'DB_INSTANCE',
      SourceArn: arn,
      Date: time,
      Message: spec.message,
      SourceIdentifier: spec.id,
      EventID: spec.eventId,
      Tags: {},
    },
  };
}

export function scheduledEvent(ruleName: string, now = new Date()): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: `${now.toISOString().slice(0, 19)}Z`,
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${ruleName}`],
    detail: {},
  };
}

export type EventTarget = (event: RdsEvent | ScheduledEvent) => Promise<unknown>;

export interface DeliveredEvent {
  event: RdsEvent | ScheduledEvent;
  deliveredAt: number;
}

export class LocalEventBridge {
  readonly delivered: DeliveredEvent[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: EventTarget,
    private readonly scheduleRuleName = 'aurora-haproxy-reconcile-schedule',
  ) {}

  /** Deliver the RDS event for a change; resolves when the target's run has ended. */
  emit(change: TopologyChange): Promise<unknown> {
    return this.deliver(rdsEvent(change));
  }

  /** One tick of the scheduled rule (the safety net). */
  tick(): Promise<unknown> {
    return this.deliver(scheduledEvent(this.scheduleRuleName));
  }

  /** Tick every intervalMs (rate(1 minute) in AWS; shorter locally) until stopSchedule(). */
  startSchedule(intervalMs: number): void {
    this.stopSchedule();
    this.timer = setInterval(() => {
      void this.tick().catch(() => undefined);
    }, intervalMs);
    this.timer.unref();
  }

  stopSchedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private deliver(event: RdsEvent | ScheduledEvent): Promise<unknown> {
    this.delivered.push({ event, deliveredAt: Date.now() });
    return this.target(event);
  }
}
