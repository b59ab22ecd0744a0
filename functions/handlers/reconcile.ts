import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createAutoScalingClient, createSsmClient } from '../delivery/clients';
import { parseTrigger } from '../events/parse-trigger';
import { readReconcileEnv } from '../reconcile/env';
import { type ReconcileSummary, reconcile } from '../reconcile/reconcile';
import { type OrchestratorClients, reconcileDeps } from '../reconcile/wiring';
import { createDynamoDbClient } from '../shared/dynamodb-client';
import {
  createLogger,
  METRICS_NAMESPACE,
  powertoolsLog,
  powertoolsMetricSink,
  SERVICE_NAME,
} from '../shared/observability';
import { createRdsClient } from '../topology/rds-client';

/**
 * The reconcile Lambda: an EventBridge RDS event (`RDS DB Cluster Event` / `RDS DB Instance
 * Event`), the schedule (`Scheduled Event`), or a direct invoke
 * `{source: 'aurora-haproxy.admin', reason}`. Thin: parse the trigger, reconcile, return
 * a small summary.
 *
 * Built by createReconcileHandler on a source of SDK clients: the deployed handler's are
 * created once per container, lazily, so endpoint overrides in the environment
 * (AWS_ENDPOINT_URL_DYNAMODB / _RDS / _SSM / _AUTO_SCALING) set before the first call are
 * honoured; tests and the local stack build one on their own clients.
 */
export const logger = createLogger();
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

export interface ReconcileResult {
  sha256?: string;
  changed: boolean;
  delivered: number;
  staleClusters: string[];
  notFoundClusters: string[];
  acted: boolean;
  reason: string;
  deliveryError?: string;
}

export function createReconcileHandler(clients: () => OrchestratorClients) {
  const reconcileEvent = async (event: unknown): Promise<ReconcileResult> => {
    const trigger = parseTrigger(event);
    const env = readReconcileEnv(process.env);
    const deps = reconcileDeps(
      clients(),
      env,
      powertoolsLog(logger),
      powertoolsMetricSink(metrics),
    );
    const summary: ReconcileSummary = await reconcile(deps, trigger);
    logger.info('reconcile done', { trigger: trigger.kind, ...summary });
    return {
      ...(summary.sha256 ? { sha256: summary.sha256 } : {}),
      changed: summary.changed,
      delivered: summary.delivered,
      staleClusters: summary.staleClusters,
      notFoundClusters: summary.notFoundClusters,
      acted: summary.acted,
      reason: summary.reason,
      ...(summary.deliveryError ? { deliveryError: summary.deliveryError } : {}),
    };
  };
  return middy(reconcileEvent).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}

let containerClients: OrchestratorClients | undefined;

export const handler = createReconcileHandler(() => {
  containerClients ??= {
    dynamodb: createDynamoDbClient(),
    rds: createRdsClient(),
    ssm: createSsmClient(),
    autoScaling: createAutoScalingClient(),
  };
  return containerClients;
});
