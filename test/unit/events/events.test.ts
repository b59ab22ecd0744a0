import { describe, expect, it } from 'vitest';
import { eventCovered } from '../../../functions/events/coalesce';
import { UnknownTriggerError } from '../../../functions/events/errors';
import { parseTrigger } from '../../../functions/events/parse-trigger';
import { decideRelevance } from '../../../functions/events/relevance';
import { clusterEvent, instanceEvent, SCHEDULED_EVENT } from './rds-events';

describe('parseTrigger', () => {
  it.each([true, false])('reads a cluster event (rds: prefix %s)', (prefixed) => {
    expect(parseTrigger(clusterEvent('RDS-EVENT-0071', 'Orders', prefixed))).toEqual({
      kind: 'rds',
      source: 'cluster',
      eventId: 'RDS-EVENT-0071',
      sourceId: 'orders',
      at: '2026-11-26T08:26:13.882Z',
      message: 'Completed failover to DB instance: Orders-2',
      categories: ['failover'],
    });
  });

  it.each([true, false])('reads an instance event (rds: prefix %s)', (prefixed) => {
    expect(parseTrigger(instanceEvent('RDS-EVENT-0006', 'orders-2', prefixed))).toMatchObject({
      kind: 'rds',
      source: 'instance',
      eventId: 'RDS-EVENT-0006',
      sourceId: 'orders-2',
    });
  });

  it('falls back to the SourceArn when SourceIdentifier is absent', () => {
    const event = instanceEvent('RDS-EVENT-0005', 'orders-4');
    delete (event.detail as { SourceIdentifier?: string }).SourceIdentifier;
    expect(parseTrigger(event)).toMatchObject({ sourceId: 'orders-4' });
  });

  it('reads the schedule and an admin invoke', () => {
    expect(parseTrigger(SCHEDULED_EVENT)).toEqual({ kind: 'schedule' });
    expect(parseTrigger({ source: 'aurora-haproxy.admin', reason: 'add orders' })).toEqual({
      kind: 'admin',
      reason: 'add orders',
    });
  });

  it.each([
    ['null', null],
    ['an SNS record', { Records: [{ EventSource: 'aws:sns' }] }],
    [
      'a snapshot event',
      { ...clusterEvent('RDS-EVENT-0075', 'x'), 'detail-type': 'RDS DB Cluster Snapshot Event' },
    ],
    ['a malformed event id', clusterEvent('EVENT-71', 'orders')],
    ['an admin invoke without reason', { source: 'aurora-haproxy.admin' }],
  ])('rejects %s with a clear error', (_, event) => {
    expect(() => parseTrigger(event)).toThrow(UnknownTriggerError);
  });
});

describe('decideRelevance', () => {
  const registered = new Set(['orders', 'billing']);
  const members = new Map([
    ['orders-1', 'orders'],
    ['orders-2', 'orders'],
    ['analytics-1', 'analytics'],
  ]);
  const decide = (event: unknown) => decideRelevance(parseTrigger(event), registered, members);

  it.each([
    'RDS-EVENT-0069',
    'RDS-EVENT-0071',
    'RDS-EVENT-0073',
    'RDS-EVENT-0170',
    'RDS-EVENT-0171',
    'RDS-EVENT-0151',
  ])('acts on cluster event %s of a registered cluster', (id) => {
    expect(decide(clusterEvent(id, 'orders')).act).toBe(true);
  });

  it('ignores a registered cluster event that changes no topology (snapshot created)', () => {
    const at = '2026-11-26T08:26:13.882Z';
    expect(decide(clusterEvent('RDS-EVENT-0169', 'orders', true, at, ['backup']))).toEqual({
      act: false,
      reason: 'RDS-EVENT-0169 does not change a topology',
    });
  });

  it('ignores an unregistered cluster', () => {
    expect(decide(clusterEvent('RDS-EVENT-0071', 'payroll'))).toMatchObject({ act: false });
  });

  it.each([
    'RDS-EVENT-0006',
    'RDS-EVENT-0003',
    'RDS-EVENT-0087',
    'RDS-EVENT-0014',
    'RDS-EVENT-0021',
  ])('acts on instance event %s of a member of a registered cluster', (id) => {
    expect(decide(instanceEvent(id, 'orders-2')).act).toBe(true);
  });

  it('ignores an instance of an unregistered cluster', () => {
    expect(decide(instanceEvent('RDS-EVENT-0006', 'analytics-1')).act).toBe(false);
  });

  it('acts on a created / topology-updated event of an unknown instance (may be a new reader)', () => {
    expect(decide(instanceEvent('RDS-EVENT-0005', 'orders-9')).act).toBe(true);
    expect(decide(instanceEvent('RDS-EVENT-0385', 'orders-9')).act).toBe(true);
  });

  it('ignores a restart of an unknown instance (it is in no bundle)', () => {
    expect(decide(instanceEvent('RDS-EVENT-0006', 'stranger-1')).act).toBe(false);
  });

  it('ignores every RDS event when nothing is registered, but never the schedule', () => {
    expect(
      decideRelevance(parseTrigger(clusterEvent('RDS-EVENT-0071', 'orders')), new Set(), members)
        .act,
    ).toBe(false);
    expect(decideRelevance({ kind: 'schedule' }, new Set(), members).act).toBe(true);
  });
});

describe('events judged by category (issue 13.4)', () => {
  const registered = new Set(['orders']);
  const members = new Map([['orders-2', 'orders']]);
  const at = '2026-11-26T08:27:03.227Z';
  const decide = (event: unknown) => decideRelevance(parseTrigger(event), registered, members);

  it('acts on the documented instance failover event RDS-EVENT-0049, whose ID is in no list', async () => {
    // Prepare: the AWS documentation sample, its instance made a member of a registered cluster
    const { readFile } = await import('node:fs/promises');
    const sample = JSON.parse(
      await readFile(
        'test/fixtures/rds-events/aws-doc-instance-0049-multi-az-failover.json',
        'utf8',
      ),
    );
    sample.detail.SourceIdentifier = 'orders-2';
    // Act
    const trigger = parseTrigger(sample);
    const relevance = decideRelevance(trigger, registered, members);
    // Assess
    expect(trigger).toMatchObject({ eventId: 'RDS-EVENT-0049', categories: ['failover'] });
    expect(relevance).toEqual({
      act: true,
      reason: 'RDS-EVENT-0049 (failover event) on orders-2 of cluster orders',
    });
  });

  it.each(['failover', 'availability', 'creation', 'deletion', 'recovery', 'Failover'])(
    'acts on an unlisted ID of category %s for a member and for a registered cluster',
    (category) => {
      expect(decide(instanceEvent('RDS-EVENT-0999', 'orders-2', false, at, [category])).act).toBe(
        true,
      );
      expect(decide(clusterEvent('RDS-EVENT-0999', 'orders', true, at, [category])).act).toBe(true);
    },
  );

  it.each(['backup', 'notification', 'configuration change', 'low storage', 'maintenance'])(
    'ignores an unlisted ID of category %s',
    (category) => {
      expect(decide(instanceEvent('RDS-EVENT-0999', 'orders-2', false, at, [category])).act).toBe(
        false,
      );
      expect(decide(clusterEvent('RDS-EVENT-0999', 'orders', true, at, [category])).act).toBe(
        false,
      );
    },
  );

  it('acts on a creation or failover event of an unknown instance, not on its availability events', () => {
    expect(decide(instanceEvent('RDS-EVENT-0999', 'stranger', false, at, ['creation'])).act).toBe(
      true,
    );
    expect(decide(instanceEvent('RDS-EVENT-0049', 'stranger', false, at, ['failover'])).act).toBe(
      true,
    );
    expect(
      decide(instanceEvent('RDS-EVENT-0999', 'stranger', false, at, ['availability'])).act,
    ).toBe(false);
  });

  it('still ignores an unregistered cluster and nothing-registered, whatever the category', () => {
    expect(decide(clusterEvent('RDS-EVENT-0999', 'payroll', true, at, ['failover'])).act).toBe(
      false,
    );
    expect(
      decideRelevance(
        parseTrigger(instanceEvent('RDS-EVENT-0049', 'orders-2', false, at, ['failover'])),
        new Set(),
        members,
      ).act,
    ).toBe(false);
  });
});

describe('eventCovered', () => {
  it('is true only when the look started at least the margin after the event', () => {
    expect(eventCovered('2026-11-26T09:00:00.000Z', '2026-11-26T09:00:05.000Z')).toBe(true);
    expect(eventCovered('2026-11-26T09:00:00.000Z', '2026-11-26T09:00:04.999Z')).toBe(false);
    expect(eventCovered(undefined, '2026-11-26T09:00:05.000Z')).toBe(false);
    expect(eventCovered('2026-11-26T09:00:00.000Z', undefined)).toBe(false);
    expect(eventCovered('not a date', '2026-11-26T09:00:05.000Z')).toBe(false);
  });

  it('reads the event time from detail.Date', () => {
    expect(
      parseTrigger(clusterEvent('RDS-EVENT-0071', 'orders', true, '2026-11-26T09:00:01.250Z')),
    ).toMatchObject({
      at: '2026-11-26T09:00:01.250Z',
    });
  });
});
