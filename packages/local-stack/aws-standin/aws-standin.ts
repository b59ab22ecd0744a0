import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { AUTOSCALING_NAMESPACE, describeAutoScalingGroups } from './autoscaling-api';
import { FaultSwitch } from './faults';
import type { CommandDocument, FleetView } from './fleet-view';
import { type HttpAnswer, type HttpRequest, startHttpServer } from './http-server';
import { parseQueryBody, QueryError, queryErrorXml, queryResponse } from './query-protocol';
import {
  SECRETS_MANAGER_TARGET_PREFIX,
  SecretStore,
  secretsManagerAnswer,
} from './secrets-manager';
import { handleSsm, SSM_TARGET_PREFIX, ssmFaultError } from './ssm-api';
import { SsmApiError, SsmCommandStore } from './ssm-commands';

/**
 * One local HTTP server standing in for SSM and Secrets Manager (JSON 1.1, told apart by their
 * X-Amz-Target header) and Auto Scaling (Query protocol, form-encoded Action=…). Point
 * AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL_AUTO_SCALING at
 * `endpoint`. Each API has its own
 * fault switch and call counter.
 */
export interface AwsStandin {
  endpoint: string;
  ssm: SsmCommandStore;
  ssmFaults: FaultSwitch;
  autoScalingFaults: FaultSwitch;
  /** Secrets Manager (versions and staging labels; its own fault switch and counter). */
  secrets: SecretStore;
  close(): Promise<void>;
}

export interface AwsStandinOptions {
  fleet: FleetView;
  documents: readonly CommandDocument[];
  /** Execution timeout applied to every invocation (the document's own may be shorter). */
  executionTimeoutSeconds?: number;
  /** Delivery timeout for every command instead of its TimeoutSeconds (tests of DeliveryTimedOut). */
  deliveryTimeoutSeconds?: number;
  port?: number;
}

const JSON_TYPE = 'application/x-amz-json-1.1';

export async function startAwsStandin(options: AwsStandinOptions): Promise<AwsStandin> {
  const store = new SsmCommandStore(
    options.fleet,
    new Map(options.documents.map((d) => [d.name, d])),
    {
      executionTimeoutSeconds: options.executionTimeoutSeconds,
      deliveryTimeoutSeconds: options.deliveryTimeoutSeconds,
    },
  );
  const ssmFaults = new FaultSwitch();
  const autoScalingFaults = new FaultSwitch();
  const secrets = new SecretStore();

  const handle = async (request: HttpRequest): Promise<HttpAnswer> => {
    const target = request.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith(SSM_TARGET_PREFIX)) {
      return ssmAnswer(store, ssmFaults, target.slice(SSM_TARGET_PREFIX.length), request.body);
    }
    if (typeof target === 'string' && target.startsWith(SECRETS_MANAGER_TARGET_PREFIX)) {
      const operation = target.slice(SECRETS_MANAGER_TARGET_PREFIX.length);
      return secretsManagerAnswer(secrets, operation, request.body);
    }
    return autoScalingAnswer(options.fleet, autoScalingFaults, request.body);
  };
  const server = await startHttpServer('ssm+autoscaling', handle, options.port ?? 0);
  return {
    endpoint: server.endpoint,
    ssm: store,
    ssmFaults,
    autoScalingFaults,
    secrets,
    close: async () => {
      await store.abortAll();
      await server.close();
    },
  };
}

function ssmAnswer(
  store: SsmCommandStore,
  faults: FaultSwitch,
  operation: string,
  body: string,
): HttpAnswer {
  try {
    const fault = faults.onRequest(operation);
    if (fault) throw ssmFaultError(fault);
    let input: Record<string, unknown>;
    try {
      input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      throw new SsmApiError('SerializationException', 'request body is not JSON');
    }
    return {
      status: 200,
      contentType: JSON_TYPE,
      body: JSON.stringify(handleSsm(store, operation, input)),
    };
  } catch (error) {
    const e =
      error instanceof SsmApiError
        ? error
        : new SsmApiError('InternalServerError', errorMessage(error), 500);
    return {
      status: e.httpStatus,
      contentType: JSON_TYPE,
      body: JSON.stringify({ __type: e.type, message: e.message }),
    };
  }
}

function autoScalingAnswer(fleet: FleetView, faults: FaultSwitch, body: string): HttpAnswer {
  try {
    const params = parseQueryBody(body);
    const action = params.get('Action') ?? '';
    const fault = faults.onRequest(action);
    if (fault === 'throttle') throw new QueryError(400, 'Throttling', 'Rate exceeded');
    if (fault === 'internal')
      throw new QueryError(500, 'InternalFailure', 'An internal error has occurred.');
    if (action !== 'DescribeAutoScalingGroups') {
      throw new QueryError(
        400,
        'InvalidAction',
        `the action ${action || '(none)'} is not valid for this web service`,
      );
    }
    const result = describeAutoScalingGroups(fleet, params);
    return {
      status: 200,
      contentType: 'text/xml',
      body: queryResponse(action, AUTOSCALING_NAMESPACE, result),
    };
  } catch (error) {
    const e =
      error instanceof QueryError
        ? error
        : new QueryError(500, 'InternalFailure', errorMessage(error));
    return {
      status: e.httpStatus,
      contentType: 'text/xml',
      body: queryErrorXml(AUTOSCALING_NAMESPACE, e),
    };
  }
}
