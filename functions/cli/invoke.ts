import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type AdminDeps, runAdmin } from '../admin/admin';
import { adminDepsFromEnv } from '../admin/deps';
import { type AdminResult, failure } from '../admin/result';
import type { Log } from '../shared/observability';

/** Sends one admin request and answers its result (never throws). */
export type AdminInvoker = (request: Record<string, unknown>) => Promise<AdminResult>;

/** The admin Lambda, invoked synchronously (RequestResponse). */
export function lambdaAdminInvoker(lambda: LambdaClient, functionName: string): AdminInvoker {
  return async (request) => {
    let out: InvokeCommandOutput;
    try {
      out = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(request)),
        }),
      );
    } catch (error) {
      return failure(
        'ADMIN_UNREACHABLE',
        `could not invoke ${functionName}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
    }
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    if (out.FunctionError) {
      return failure('ADMIN_FUNCTION_FAILED', `${functionName} failed: ${errorMessageOf(text)}`);
    }
    return parseResult(text, functionName);
  };
}

/**
 * The admin core in this process, on SDK clients for the endpoints in `env`
 * (AWS_ENDPOINT_URL_DYNAMODB / _RDS / _LAMBDA / _SSM / _AUTO_SCALING, else AWS_ENDPOINT_URL, else AWS itself).
 * `overrides` lets the local stack supply e.g. an in-process reconcile and status.
 */
export function localAdminInvoker(
  env: NodeJS.ProcessEnv,
  log: Log,
  options: { region?: string; overrides?: Partial<AdminDeps> } = {},
): AdminInvoker {
  let deps: AdminDeps | undefined;
  return async (request) => {
    try {
      deps ??= adminDepsFromEnv(env, localClients(env, options.region), log, options.overrides);
    } catch (error) {
      return failure('CONFIG_INVALID', errorMessage(error));
    }
    return runAdmin(request, deps);
  };
}

export function localClients(env: NodeJS.ProcessEnv, region?: string) {
  return {
    dynamodb: new DynamoDBClient(clientConfig(env, env.AWS_ENDPOINT_URL_DYNAMODB, region)),
    rds: new RDSClient(clientConfig(env, env.AWS_ENDPOINT_URL_RDS, region)),
    lambda: new LambdaClient(clientConfig(env, env.AWS_ENDPOINT_URL_LAMBDA, region)),
    ssm: new SSMClient(clientConfig(env, env.AWS_ENDPOINT_URL_SSM, region)),
    autoScaling: new AutoScalingClient(
      clientConfig(env, env.AWS_ENDPOINT_URL_AUTO_SCALING, region),
    ),
  };
}

/**
 * SDK client settings from `env` (not only process.env, so an embedding caller's
 * environment is the one used): region, static credentials when given, and the endpoint
 * (service-specific variable, else AWS_ENDPOINT_URL, else AWS itself).
 */
export function clientConfig(
  env: NodeJS.ProcessEnv,
  serviceEndpoint: string | undefined,
  region?: string,
) {
  const endpoint = serviceEndpoint ?? env.AWS_ENDPOINT_URL;
  const resolvedRegion = region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    ...(resolvedRegion ? { region: resolvedRegion } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          credentials: {
            accessKeyId: env.AWS_ACCESS_KEY_ID,
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
            sessionToken: env.AWS_SESSION_TOKEN,
          },
        }
      : {}),
  };
}

/** The Lambda's answer is outside input: check it is an AdminResult-shaped object. */
function parseResult(text: string, functionName: string): AdminResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return failure('ADMIN_BAD_RESPONSE', `${functionName} answered something that is not JSON`);
  }
  const v = value as { ok?: unknown; error?: { code?: unknown; message?: unknown } } | null;
  if (v && v.ok === true) return value as AdminResult;
  if (
    v &&
    v.ok === false &&
    typeof v.error?.code === 'string' &&
    typeof v.error.message === 'string'
  ) {
    return value as AdminResult;
  }
  return failure('ADMIN_BAD_RESPONSE', `${functionName} answered an unexpected shape`);
}

function errorMessageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errorType?: string; errorMessage?: string };
    return `${parsed.errorType ?? 'Error'}: ${parsed.errorMessage ?? '(no message)'}`.slice(0, 500);
  } catch {
    return text.slice(0, 500) || '(no payload)';
  }
}
