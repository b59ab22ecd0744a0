import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import { type AdminDeps, runAdmin } from '../admin/admin';
import { adminDepsFromEnv } from '../admin/deps';
import { type AdminResult, failure } from '../admin/result';
import { createLogger, type Log } from '../shared/observability';

/**
 * Admin Lambda: the only writer of the registry. Invoked directly (the CLI) with one admin
 * request as the event; answers an AdminResult, never a stack trace.
 */
const logger = createLogger('aurora-haproxy-admin');
const log: Log = {
  debug: (message, attributes) => logger.debug(message, { ...attributes }),
  info: (message, attributes) => logger.info(message, { ...attributes }),
  warn: (message, attributes) => logger.warn(message, { ...attributes }),
  error: (message, attributes) => logger.error(message, { ...attributes }),
};
const clients = {
  dynamodb: new DynamoDBClient({}),
  rds: new RDSClient({}),
  lambda: new LambdaClient({}),
  ssm: new SSMClient({}),
  autoScaling: new AutoScalingClient({}),
};

/** Build the handler function on given dependencies (tests inject theirs). */
export function createAdminHandler(deps: () => AdminDeps) {
  let resolved: AdminDeps | undefined;
  return async (event: unknown): Promise<AdminResult> => {
    try {
      resolved ??= deps();
    } catch (error) {
      log.error('admin function is misconfigured', { error: String(error) });
      return failure('CONFIG_INVALID', error instanceof Error ? error.message : String(error));
    }
    return runAdmin(event, resolved);
  };
}

export const handler = middy(createAdminHandler(() => adminDepsFromEnv(process.env, clients, log)));
