import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { RegistryStore } from '../registry/store';
import type { Log } from '../shared/observability';
import { DeliveryRecords } from '../state/delivery-records';
import { DesiredPointerStore } from '../state/desired-pointer';
import { TopologyCache } from '../state/topology-cache';
import type { StatusDeps } from './status';

/**
 * What readStatus needs (the admin Lambda's `status` action). Pass autoScaling and the
 * fleet group name to list instances that never received the desired sha as well.
 */
export function statusDeps(
  clients: { dynamodb: DynamoDBClient; ssm: SSMClient } & { autoScaling?: AutoScalingClient },
  env: { TABLE_NAME: string; FLEET_ASG_NAME?: string },
  log: Log,
): StatusDeps {
  const table = env.TABLE_NAME;
  return {
    registry: new RegistryStore(clients.dynamodb, table),
    pointer: new DesiredPointerStore(clients.dynamodb, table),
    topologyCache: new TopologyCache(clients.dynamodb, table),
    records: new DeliveryRecords(clients.dynamodb, table),
    ssm: clients.ssm,
    ...(clients.autoScaling && env.FLEET_ASG_NAME
      ? { autoScaling: clients.autoScaling, fleetGroupName: env.FLEET_ASG_NAME }
      : {}),
    log,
  };
}
