import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { LambdaClient } from '@aws-sdk/client-lambda';
import middy from '@middy/core';
import { type AdminDeps, runAdmin } from '../admin/admin';
import { adminDepsFromEnv } from '../admin/deps';
import { type AdminResult, failure } from '../admin/result';
import { createAutoScalingClient, createSsmClient } from '../delivery/clients';
import { createDynamoDbClient } from '../shared/dynamodb-client';
import { createLogger, powertoolsLog } from '../shared/observability';
import { createRdsClient } from '../topology/rds-client';

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
      // The RDS check before `add` answers an operator: a few quick attempts, not a long wait.
      rds: createRdsClient({ maxAttempts: 3 }),
      lambda: new LambdaClient({ maxAttempts: 3 }),
      ssm: createSsmClient(),
      autoScaling: createAutoScalingClient(),
    },
    log,
  );
  return containerDeps;
}

export const adminEvent = createAdminHandler(depsFromEnvironment);

export const handler = middy(adminEvent).use(injectLambdaContext(logger));
