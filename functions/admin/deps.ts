import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { RDSClient } from '@aws-sdk/client-rds';
import { RegistryConfigError } from '../registry/errors';
import { RegistryStore } from '../registry/store';
import { reservedPortsFromEnv } from '../registry/validate';
import type { Log } from '../shared/observability';
import type { AdminDeps } from './admin';
import { StatusUnavailableError } from './errors';
import { lambdaReconcileTrigger, noReconcileTrigger } from './reconcile-trigger';

export interface AdminClients {
  dynamodb: DynamoDBClient;
  rds: RDSClient;
  lambda: LambdaClient;
}

/**
 * The admin dependencies from the Lambda environment (TABLE_NAME, RECONCILE_FUNCTION_NAME,
 * RESERVED_PORTS) and SDK clients. Used by the Lambda handler and by the CLI's --local mode
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
  return {
    registry: new RegistryStore(clients.dynamodb, tableName),
    rds: clients.rds,
    triggerReconcile: reconcileFunction
      ? lambdaReconcileTrigger(clients.lambda, reconcileFunction)
      : noReconcileTrigger,
    readStatus: async () => {
      throw new StatusUnavailableError('status is not wired yet');
    },
    reservedPorts: reservedPortsFromEnv(env.RESERVED_PORTS),
    log,
    ...overrides,
  };
}
