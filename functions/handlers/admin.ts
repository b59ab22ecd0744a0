import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type AdminDeps, runAdmin } from '../admin/admin';
import { loadOnce } from '../admin/client-source';
import { adminDepsFromEnv } from '../admin/deps';
import { type AdminResult, failure } from '../admin/result';
import { createDynamoDbClient } from '../shared/dynamodb-client';
import { createLogger, powertoolsLog } from '../shared/observability';

/**
 * Admin Lambda: the only writer of the registry. Invoked directly (the CLI) with one admin
 * request as the event; answers an AdminResult, never a stack trace.
 *
 * Built by createAdminHandler on a source of dependencies: the deployed handler's SDK
 * clients are created once per container, lazily (so endpoint variables such as
 * AWS_ENDPOINT_URL_DYNAMODB set before the first call are honoured); tests build one on theirs.
 */
export const logger = createLogger('aurora-haproxy-admin');
const log = powertoolsLog(logger);

/** Build the handler function on given dependencies (tests inject theirs; `deps` caches). */
export function createAdminHandler(deps: () => AdminDeps) {
  return async (event: unknown): Promise<AdminResult> => {
    let resolved: AdminDeps;
    try {
      resolved = deps();
    } catch (error) {
      log.error('admin function is misconfigured', { error: String(error) });
      return failure('CONFIG_INVALID', errorMessage(error));
    }
    return runAdmin(event, resolved);
  };
}

let containerDeps: AdminDeps | undefined;

/** The deployed handler's dependencies: from the environment, on this container's clients. */
function depsFromEnvironment(): AdminDeps {
  containerDeps ??= adminDepsFromEnv(
    process.env,
    {
      dynamodb: createDynamoDbClient(),
      // Every action reads or writes the registry; the other clients' modules are loaded by
      // the actions that call them (dynamic import: a chunk of the bundle, not read at init).
      // The RDS check before `add` answers an operator: a few quick attempts, not a long wait.
      rds: loadOnce(async () =>
        (await import('../topology/rds-client')).createRdsClient({ maxAttempts: 3 }),
      ),
      lambda: loadOnce(
        async () => new (await import('@aws-sdk/client-lambda')).LambdaClient({ maxAttempts: 3 }),
      ),
      ssm: loadOnce(async () => (await import('../delivery/clients')).createSsmClient()),
      autoScaling: loadOnce(async () =>
        (await import('../delivery/clients')).createAutoScalingClient(),
      ),
    },
    log,
  );
  return containerDeps;
}

export const adminEvent = createAdminHandler(depsFromEnvironment);

export const handler = middy(adminEvent).use(injectLambdaContext(logger));
