import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { ReconcileTriggerError } from './errors';
import type { AdminReconcileEvent, ReconcileTrigger } from './reconcile-trigger';

/**
 * In AWS: an asynchronous invoke (InvocationType Event) of RECONCILE_FUNCTION_NAME, so an
 * admin call does not wait for the fleet. A reconcile is level-triggered: the payload only
 * says why to look again.
 */
export function lambdaReconcileTrigger(
  lambda: LambdaClient,
  functionName: string,
): ReconcileTrigger {
  return async (reason) => {
    const event: AdminReconcileEvent = { source: 'aurora-haproxy.admin', reason };
    try {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(event)),
        }),
      );
      if (out.StatusCode !== undefined && out.StatusCode !== 202) {
        throw new Error(`Invoke answered status ${out.StatusCode}, expected 202`);
      }
    } catch (error) {
      throw new ReconcileTriggerError(`could not invoke ${functionName}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  };
}
