import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { servableRegistry } from '../registry/servable';
import { RegistryStore } from '../registry/store';
import { renderBundle } from '../render/render-bundle';
import type { Log, MetricSink } from '../shared/observability';
import { BundleStore } from '../state/bundle-store';
import { DeliveryRecords } from '../state/delivery-records';
import { DesiredPointerStore } from '../state/desired-pointer';
import { ReconcileMarkStore } from '../state/reconcile-mark';
import { TopologyCache } from '../state/topology-cache';
import type { ReconcileEnv } from './env';
import type { ReconcileDeps } from './reconcile';

// statusDeps has a file of its own (status-deps.ts): the admin Lambda loads it without the render.
export { statusDeps } from './status-deps';

export interface OrchestratorClients {
  dynamodb: DynamoDBClient;
  rds: RDSClient;
  ssm: SSMClient;
  autoScaling: AutoScalingClient;
}

type Env = Pick<ReconcileEnv, 'TABLE_NAME' | 'FLEET_ASG_NAME' | 'SSM_DOCUMENT_NAME'> &
  Partial<ReconcileEnv>;

/** Everything reconcile needs, built from SDK clients (real, local, or mocked). */
export function reconcileDeps(
  clients: OrchestratorClients,
  env: Env,
  log: Log,
  metrics: MetricSink,
  now: () => Date = () => new Date(),
): ReconcileDeps {
  const table = env.TABLE_NAME;
  const cache = new TopologyCache(clients.dynamodb, table);
  return {
    registry: servableRegistry(new RegistryStore(clients.dynamodb, table), log),
    topology: { rds: clients.rds, cache, log, metrics, now },
    bundles: new BundleStore(clients.dynamodb, table),
    pointer: new DesiredPointerStore(clients.dynamodb, table),
    delivery: {
      ssm: clients.ssm,
      autoScaling: clients.autoScaling,
      records: new DeliveryRecords(clients.dynamodb, table),
      fleetGroupName: env.FLEET_ASG_NAME,
      send: {
        documentName: env.SSM_DOCUMENT_NAME,
        maxConcurrency: env.SSM_MAX_CONCURRENCY ?? '50%',
        maxErrors: env.SSM_MAX_ERRORS ?? '1',
        timeoutSeconds: env.SSM_TIMEOUT_SECONDS ?? 300,
        ...(env.SSM_OUTPUT_LOG_GROUP ? { cloudWatchLogGroup: env.SSM_OUTPUT_LOG_GROUP } : {}),
      },
      log,
      metrics,
      now,
    },
    mark: new ReconcileMarkStore(clients.dynamodb, table),
    render: renderBundle,
    log,
    metrics,
    now,
  };
}
