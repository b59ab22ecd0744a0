import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { fleetViewReader, staleAfterMsFromEnv } from '../fleet-view/read';
import { HostReportStore } from '../fleet-view/store';
import { readStatus } from '../reconcile/status';
import { statusDeps } from '../reconcile/wiring';
import { RegistryConfigError } from '../registry/errors';
import { RegistryStore } from '../registry/store';
import { reservedPortsFromEnv } from '../registry/validate';
import type { Log } from '../shared/observability';
import type { AdminDeps } from './admin';
import { lambdaReconcileTrigger, noReconcileTrigger } from './reconcile-trigger';

export interface AdminClients {
  dynamodb: DynamoDBClient;
  rds: RDSClient;
  lambda: LambdaClient;
  ssm: SSMClient;
  autoScaling: AutoScalingClient;
}

/**
 * The admin dependencies from the Lambda environment (TABLE_NAME, RECONCILE_FUNCTION_NAME,
 * RESERVED_PORTS, FLEET_ASG_NAME for status; HOST_REPORTS_TABLE and HOST_REPORT_STALE_MS for
 * the fleet view) and SDK clients. Used by the Lambda handler and by the CLI's --local mode
 * (where the SDK clients find local endpoints in AWS_ENDPOINT_URL_DYNAMODB / _RDS / _LAMBDA).
 * Throws RegistryConfigError naming a missing or malformed setting.
 */
export function adminDepsFromEnv(
  env: NodeJS.ProcessEnv,
  clients: AdminClients,
  log: Log,
  overrides: Partial<AdminDeps> = {},
): AdminDeps {
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new RegistryConfigError('TABLE_NAME is not set');
  const reconcileFunction = env.RECONCILE_FUNCTION_NAME;
  const registry = new RegistryStore(clients.dynamodb, tableName);
  return {
    registry,
    rds: clients.rds,
    triggerReconcile: reconcileFunction
      ? lambdaReconcileTrigger(clients.lambda, reconcileFunction)
      : noReconcileTrigger,
    readStatus: () =>
      readStatus(
        statusDeps(clients, { TABLE_NAME: tableName, FLEET_ASG_NAME: env.FLEET_ASG_NAME }, log),
      ),
    reservedPorts: reservedPortsFromEnv(env.RESERVED_PORTS),
    ...(env.HOST_REPORTS_TABLE
      ? {
          readFleetView: fleetViewReader(
            new HostReportStore(clients.dynamodb, env.HOST_REPORTS_TABLE),
            staleAfterMsFromEnv(env.HOST_REPORT_STALE_MS),
          ),
        }
      : {}),
    log,
    ...overrides,
  };
}
