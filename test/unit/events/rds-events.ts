/**
 * EventBridge RDS events in the documented shape (Amazon RDS User Guide, "Examples of
 * Amazon RDS events": detail.EventCategories, SourceType, SourceArn, Date,
 * SourceIdentifier with an `rds:` prefix, Message, EventID).
 */
export function clusterEvent(
  eventId: string,
  clusterId: string,
  prefixed = true,
  at = '2026-11-26T08:26:13.882Z',
  categories = ['failover'],
) {
  return {
    version: '0',
    id: '844e2571-85d4-695f-b930-0153b71dcb42',
    'detail-type': 'RDS DB Cluster Event',
    source: 'aws.rds',
    account: '123456789012',
    time: `${at.slice(0, 19)}Z`,
    region: 'eu-west-1',
    resources: [`arn:aws:rds:eu-west-1:123456789012:cluster:${clusterId}`],
    detail: {
      EventCategories: categories,
      SourceType: 'CLUSTER',
      SourceArn: `arn:aws:rds:eu-west-1:123456789012:cluster:${clusterId}`,
      Date: at,
      SourceIdentifier: prefixed ? `rds:${clusterId}` : clusterId,
      Message: `Completed failover to DB instance: ${clusterId}-2`,
      EventID: eventId,
    },
  };
}

export function instanceEvent(
  eventId: string,
  instanceId: string,
  prefixed = false,
  at = '2026-11-26T08:27:03.227Z',
  categories = ['availability'],
) {
  return {
    version: '0',
    id: '68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e',
    'detail-type': 'RDS DB Instance Event',
    source: 'aws.rds',
    account: '123456789012',
    time: `${at.slice(0, 19)}Z`,
    region: 'eu-west-1',
    resources: [`arn:aws:rds:eu-west-1:123456789012:db:${instanceId}`],
    detail: {
      EventCategories: categories,
      SourceType: 'DB_INSTANCE',
      SourceArn: `arn:aws:rds:eu-west-1:123456789012:db:${instanceId}`,
      Date: at,
      Message: 'DB instance restarted',
      SourceIdentifier: prefixed ? `rds:${instanceId}` : instanceId,
      EventID: eventId,
    },
  };
}

export const SCHEDULED_EVENT = {
  version: '0',
  account: '123456789012',
  region: 'eu-west-1',
  detail: {},
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  time: '2026-11-26T09:00:00Z',
  id: 'cdc73f9d-aea9-11e3-9d5a-835b769c0d9c',
  resources: ['arn:aws:events:eu-west-1:123456789012:rule/aurora-haproxy-reconcile'],
};
