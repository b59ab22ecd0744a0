import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { FaultSwitch } from './faults';
import { type HttpAnswer, type HttpRequest, startHttpServer } from './http-server';

/**
 * Lambda Invoke stand-in (REST-JSON: POST /2015-03-31/functions/{name}/invocations) running
 * handlers in this Node process: the admin path's asynchronous invoke of the reconcile
 * function (X-Amz-Invocation-Type: Event -> 202) and synchronous invokes (RequestResponse ->
 * 200 with the handler's JSON result, or X-Amz-Function-Error: Unhandled). Each function has
 * a reserved concurrency (default 1, as the reconcile function is deployed): invocations past
 * it wait in a queue, like asynchronous events do in Lambda. Every run is recorded.
 */
export type LocalHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface InvocationRecord {
  functionName: string;
  requestId: string;
  type: 'Event' | 'RequestResponse' | 'Direct';
  event: unknown;
  startedAt: number;
  endedAt?: number;
  result?: unknown;
  error?: string;
  /** 1 for the first run; asynchronous (Event) invocations that fail are run again. */
  attempt: number;
}

interface LocalFunction {
  name: string;
  handler: LocalHandler;
  concurrency: number;
  running: number;
  queue: (() => void)[];
  timeoutMs: number;
  asyncRetries: number;
  retryDelayMs: number;
}

export class LocalFunctions {
  private readonly functions = new Map<string, LocalFunction>();
  readonly invocations: InvocationRecord[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private listeners: ((record: InvocationRecord) => void)[] = [];

  register(
    name: string,
    handler: LocalHandler,
    options: {
      concurrency?: number;
      timeoutMs?: number;
      /** Lambda runs a failed asynchronous invocation twice more (1 and 2 min apart in AWS). */
      asyncRetries?: number;
      retryDelayMs?: number;
    } = {},
  ): void {
    this.functions.set(name, {
      name,
      handler,
      concurrency: options.concurrency ?? 1,
      running: 0,
      queue: [],
      timeoutMs: options.timeoutMs ?? 300_000,
      asyncRetries: options.asyncRetries ?? 2,
      retryDelayMs: options.retryDelayMs ?? 1000,
    });
  }

  has(name: string): boolean {
    return this.functions.has(name);
  }

  /** Called after each invocation ends (success or error). */
  onInvocationEnd(listener: (record: InvocationRecord) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Run a function in-process, through its concurrency queue; resolves with its record. */
  invoke(
    name: string,
    event: unknown,
    type: InvocationRecord['type'] = 'Direct',
    attempt = 1,
  ): Promise<InvocationRecord> {
    const fn = this.functions.get(name);
    if (!fn) return Promise.reject(new Error(`Function not found: ${name}`));
    const record: InvocationRecord = {
      functionName: name,
      requestId: randomUUID(),
      type,
      event,
      startedAt: 0,
      attempt,
    };
    const run = (async () => {
      await this.acquire(fn);
      record.startedAt = Date.now();
      try {
        record.result = await fn.handler(
          structuredClone(event),
          lambdaContext(fn, record.requestId),
        );
      } catch (error) {
        record.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      } finally {
        record.endedAt = Date.now();
        this.invocations.push(record);
        this.release(fn);
        for (const l of this.listeners) l(record);
      }
      if (record.error !== undefined && type === 'Event' && attempt <= fn.asyncRetries) {
        this.retryLater(name, event, attempt + 1, fn.retryDelayMs * attempt);
      }
      return record;
    })();
    this.pending.add(run);
    // The caller sees a rejection through `run`; this bookkeeping branch must not report it again.
    void run.finally(() => this.pending.delete(run)).catch(() => undefined);
    return run;
  }

  private retryLater(name: string, event: unknown, attempt: number, delayMs: number): void {
    const retry = new Promise((resolve) => setTimeout(resolve, delayMs)).then(() =>
      this.invoke(name, event, 'Event', attempt),
    );
    this.pending.add(retry);
    void retry.finally(() => this.pending.delete(retry)).catch(() => undefined);
  }

  /** Wait until no invocation is queued or running (retries included). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private acquire(fn: LocalFunction): Promise<void> {
    if (fn.running < fn.concurrency) {
      fn.running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => fn.queue.push(() => resolve()));
  }

  private release(fn: LocalFunction): void {
    const next = fn.queue.shift();
    if (next) next();
    else fn.running -= 1;
  }
}

function lambdaContext(fn: LocalFunction, requestId: string): Context {
  const deadline = Date.now() + fn.timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${fn.name}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn.name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface LambdaStandin {
  endpoint: string;
  faults: FaultSwitch;
  close(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations(?:\?.*)?$/;

export async function startLambdaStandin(
  functions: LocalFunctions,
  port = 0,
): Promise<LambdaStandin> {
  const faults = new FaultSwitch();
  const handle = async (request: HttpRequest): Promise<HttpAnswer> => {
    const match = INVOKE_PATH.exec(request.url);
    if (request.method !== 'POST' || !match?.[1]) {
      return lambdaError(
        404,
        'UnknownOperationException',
        `unsupported: ${request.method} ${request.url}`,
      );
    }
    const name =
      decodeURIComponent(match[1])
        .replace(/^arn:aws:lambda:[^:]+:\d+:function:/, '')
        .split(':')[0] ?? '';
    const fault = faults.onRequest('Invoke');
    if (fault === 'throttle') return lambdaError(429, 'TooManyRequestsException', 'Rate Exceeded.');
    if (fault === 'internal')
      return lambdaError(500, 'ServiceException', 'An internal error occurred.');
    if (!functions.has(name)) {
      return lambdaError(
        404,
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:us-east-1:123456789012:function:${name}`,
      );
    }
    let event: unknown;
    try {
      event = request.body ? JSON.parse(request.body) : {};
    } catch {
      return lambdaError(
        400,
        'InvalidRequestContentException',
        'Could not parse request body into json',
      );
    }
    const type = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (type === 'DryRun') return { status: 204, contentType: 'application/json', body: '' };
    if (type === 'Event') {
      void functions.invoke(name, event, 'Event');
      return { status: 202, contentType: 'application/json', body: '' };
    }
    const record = await functions.invoke(name, event, 'RequestResponse');
    if (record.error !== undefined) {
      return {
        status: 200,
        contentType: 'application/json',
        headers: { 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' },
        body: JSON.stringify({ errorType: record.error.split(':')[0], errorMessage: record.error }),
      };
    }
    return {
      status: 200,
      contentType: 'application/json',
      headers: { 'x-amz-executed-version': '$LATEST' },
      body: JSON.stringify(record.result ?? null),
    };
  };
  const server = await startHttpServer('lambda', handle, port);
  return { endpoint: server.endpoint, faults, close: server.close };
}

function lambdaError(status: number, type: string, message: string): HttpAnswer {
  return {
    status,
    contentType: 'application/json',
    headers: { 'x-amzn-errortype': type },
    body: JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', message }),
  };
}
