import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LambdaStandin,
  LocalFunctions,
  startLambdaStandin,
} from '../../../packages/local-stack/aws-standin/lambda-standin';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Lambda Invoke stand-in with the real @aws-sdk/client-lambda', () => {
  const functions = new LocalFunctions();
  let standin: LambdaStandin;
  let lambda: LambdaClient;
  let active = 0;
  let maxActive = 0;
  beforeAll(async () => {
    functions.register('echo', async (event, context) => ({
      got: event,
      name: context.functionName,
    }));
    functions.register('boom', async () => {
      throw new TypeError('bad event');
    });
    functions.register('slow', async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      await sleep(50);
      active -= 1;
      return 'ok';
    });
    standin = await startLambdaStandin(functions);
    process.env.AWS_ENDPOINT_URL_LAMBDA = standin.endpoint;
    lambda = new LambdaClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    lambda?.destroy();
    delete process.env.AWS_ENDPOINT_URL_LAMBDA;
    await standin?.close();
  });

  const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

  it('answers a synchronous invoke with the handler result', async () => {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'echo', Payload: payload({ a: 1 }) }),
    );
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(out.Payload))).toEqual({
      got: { a: 1 },
      name: 'echo',
    });
  });

  it('reports a handler error as FunctionError Unhandled', async () => {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'boom', Payload: payload({}) }),
    );
    expect(out.FunctionError).toBe('Unhandled');
    expect(JSON.parse(new TextDecoder().decode(out.Payload)).errorMessage).toContain('bad event');
  });

  it('accepts an asynchronous invoke with 202 and runs it, one at a time (concurrency 1)', async () => {
    // Act
    const answers = await Promise.all(
      [1, 2, 3].map(() =>
        lambda.send(
          new InvokeCommand({
            FunctionName: 'slow',
            InvocationType: 'Event',
            Payload: payload({}),
          }),
        ),
      ),
    );
    await functions.idle();

    // Assess
    expect(answers.map((a) => a.StatusCode)).toEqual([202, 202, 202]);
    expect(
      functions.invocations.filter((i) => i.functionName === 'slow' && i.type === 'Event'),
    ).toHaveLength(3);
    expect(maxActive).toBe(1);
  });

  it('runs a failed asynchronous invocation twice more, as Lambda does', async () => {
    // Prepare
    let calls = 0;
    functions.register(
      'flaky',
      async () => {
        calls += 1;
        if (calls < 3) throw new Error(`attempt ${calls} failed`);
        return 'third time';
      },
      { retryDelayMs: 10 },
    );

    // Act
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'flaky', InvocationType: 'Event', Payload: payload({}) }),
    );
    await functions.idle();

    // Assess
    expect(out.StatusCode).toBe(202);
    const runs = functions.invocations.filter((i) => i.functionName === 'flaky');
    expect(runs.map((r) => [r.attempt, r.error ?? r.result])).toEqual([
      [1, 'Error: attempt 1 failed'],
      [2, 'Error: attempt 2 failed'],
      [3, 'third time'],
    ]);
  });

  it('answers ResourceNotFoundException for an unknown function', async () => {
    await expect(
      lambda.send(new InvokeCommand({ FunctionName: 'missing', Payload: payload({}) })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
  });
});
