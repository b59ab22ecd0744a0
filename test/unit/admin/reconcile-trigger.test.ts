import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ReconcileTriggerError } from '../../../functions/admin/errors';
import { lambdaReconcileTrigger } from '../../../functions/admin/lambda-reconcile-trigger';
import { noReconcileTrigger } from '../../../functions/admin/reconcile-trigger';

const lambdaMock = mockClient(LambdaClient);

describe('reconcile trigger', () => {
  beforeEach(() => lambdaMock.reset());

  it('invokes the reconcile function asynchronously with the reason', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
    const trigger = lambdaReconcileTrigger(new LambdaClient({}), 'aurora-haproxy-reconcile');

    // Act
    await trigger('add orders-prod');

    // Assess
    const input = lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input?.FunctionName).toBe('aurora-haproxy-reconcile');
    expect(input?.InvocationType).toBe('Event');
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array))).toEqual({
      source: 'aurora-haproxy.admin',
      reason: 'add orders-prod',
    });
  });

  it('throws ReconcileTriggerError when the invoke fails', async () => {
    // Prepare
    lambdaMock
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    const trigger = lambdaReconcileTrigger(new LambdaClient({ maxAttempts: 1 }), 'fn');

    // Act
    const act = trigger('x');

    // Assess
    await expect(act).rejects.toBeInstanceOf(ReconcileTriggerError);
    await expect(trigger('x')).rejects.toThrow('could not invoke fn: not authorized');
  });

  it('without a configured function it says so', async () => {
    await expect(noReconcileTrigger('x')).rejects.toThrow(/RECONCILE_FUNCTION_NAME/);
  });
});
