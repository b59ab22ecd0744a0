import { describe, expect, it } from 'vitest';
import { parseTrigger } from '../../../functions/events/parse-trigger';
import {
  CLUSTER_LOOK_AGAIN_EVENTS,
  INSTANCE_LOOK_AGAIN_EVENTS,
} from '../../../functions/events/rds-event-ids';
import {
  LocalEventBridge,
  type RdsEvent,
  rdsEvent,
  scheduledEvent,
} from '../../../packages/local-stack/eventbridge';

/**
 * The EventBridge stand-in's events are what the reconcile function receives in AWS: each
 * parses with the orchestrator's trigger parser and is one of the events it acts on.
 */
describe('EventBridge stand-in events (checked against the reconcile trigger parser)', () => {
  it('a failover completion is the RDS cluster event RDS-EVENT-0071 of the cluster', () => {
    // Act
    const event = rdsEvent(
      { kind: 'failover-completed', clusterId: 'orders', newWriterInstanceId: 'orders-2' },
      new Date('2026-11-26T10:00:00.123Z'),
    );

    // Assess
    expect(event).toMatchObject({
      version: '0',
      source: 'aws.rds',
      'detail-type': 'RDS DB Cluster Event',
      account: '123456789012',
      region: 'us-east-1',
      time: '2026-11-26T10:00:00Z',
      resources: ['arn:aws:rds:us-east-1:123456789012:cluster:orders'],
      detail: {
        EventCategories: ['failover'],
        SourceType: 'CLUSTER',
        SourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:orders',
        Date: '2026-11-26T10:00:00.123Z',
        SourceIdentifier: 'orders',
        EventID: 'RDS-EVENT-0071',
        Message: 'Completed failover to DB instance: orders-2',
      },
    });
    expect(parseTrigger(event)).toMatchObject({
      kind: 'rds',
      source: 'cluster',
      eventId: 'RDS-EVENT-0071',
      sourceId: 'orders',
    });
  });

  it('every change the stack emits is an event reconcile looks again for', () => {
    const events: RdsEvent[] = [
      rdsEvent({ kind: 'failover-started', clusterId: 'orders', targetInstanceId: 'orders-2' }),
      rdsEvent({
        kind: 'failover-completed',
        clusterId: 'orders',
        newWriterInstanceId: 'orders-2',
      }),
      rdsEvent({ kind: 'cluster-deleted', clusterId: 'orders' }),
      rdsEvent({ kind: 'instance-created', instanceId: 'orders-4' }),
      rdsEvent({ kind: 'instance-deleted', instanceId: 'orders-4' }),
    ];
    for (const event of events) {
      const trigger = parseTrigger(event);
      expect(trigger.kind).toBe('rds');
      if (trigger.kind !== 'rds') continue;
      const known =
        trigger.source === 'cluster' ? CLUSTER_LOOK_AGAIN_EVENTS : INSTANCE_LOOK_AGAIN_EVENTS;
      expect(known[trigger.eventId], trigger.eventId).toBeDefined();
    }
    expect(events.map((e) => e.detail.SourceType)).toEqual([
      'CLUSTER',
      'CLUSTER',
      'CLUSTER',
      'DB_INSTANCE',
      'DB_INSTANCE',
    ]);
  });

  it('delivers RDS and scheduled events to its target and records them', async () => {
    // Prepare
    const received: unknown[] = [];
    const bus = new LocalEventBridge(async (event) => {
      received.push(event);
      return 'ran';
    });

    // Act
    const first = await bus.emit({ kind: 'instance-created', instanceId: 'orders-9' });
    await bus.tick();

    // Assess
    expect(first).toBe('ran');
    expect(received.map((e) => parseTrigger(e).kind)).toEqual(['rds', 'schedule']);
    expect(bus.delivered).toHaveLength(2);
    expect(scheduledEvent('r').resources).toEqual(['arn:aws:events:us-east-1:123456789012:rule/r']);
  });
});
