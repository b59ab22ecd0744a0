import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { fleetViewReader, staleAfterMsFromEnv } from '../fleet-view/read';
import { HostReportStore } from '../fleet-view/store';
import { RegistryConfigError } from '../registry/errors';
import { RegistryStore } from '../registry/store';
import { reservedPortsFromEnv } from '../registry/validate';
import type { Log } from '../shared/observability';
import type { AdminDeps } from './admin';
import { type ClientSource, clientOf } from './client-source';
import { noReconcileTrigger, type ReconcileTrigger } from './reconcile-trigger';

export interface AdminClients {
  dynamodb: DynamoDBClient;
  rds: ClientSource<RDSClient>;
  lambda: ClientSource<LambdaClient>;
  ssm: ClientSource<SSMClient>;
  autoScaling: ClientSource<AutoScalingClient>;
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
      ? lambdaTrigger(clients.lambda, reconcileFunction)
      : noReconcileTrigger,
    // status's code (and the SSM and Auto Scaling clients') is loaded by `status` only.
    readStatus: async () => {
      const [{ readStatus }, { statusDeps }, ssm, autoScaling] = await Promise.all([
        import('../reconcile/status'),
        import('../reconcile/status-deps'),
        clientOf(clients.ssm),
        clientOf(clients.autoScaling),
      ]);
      return readStatus(
        statusDeps(
          { dynamodb: clients.dynamodb, ssm, autoScaling },
          { TABLE_NAME: tableName, FLEET_ASG_NAME: env.FLEET_ASG_NAME },
          log,
        ),
      );
    },
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

/** The Lambda invoke of reconcile, its code and client loaded by the first change. */
function lambdaTrigger(lambda: ClientSource<LambdaClient>, functionName: string): ReconcileTrigger {
  return async (reason) => {
    const { lambdaReconcileTrigger } = await import('./lambda-reconcile-trigger');
    return lambdaReconcileTrigger(await clientOf(lambda), functionName)(reason);
  };
}
