/**
 * An overall deadline on every call of an AWS SDK v3 client, retries included. Added to the
 * client's middleware stack at the initialize step (before the retry middleware), so it
 * applies to commands sent through the client and through wrappers that share its stack
 * (the DynamoDB document client does). Each attempt is also bounded by the client's own
 * request timeout, so a call abandoned here does not keep a socket for long.
 */
export class AwsCallDeadlineError extends Error {
  override readonly name = 'AwsCallDeadlineError';
  /** Retryable by callers as a fault, like the SDK's TimeoutError. */
  readonly $fault = 'client';
}

interface StackOwner {
  middlewareStack: {
    add(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string; priority?: 'high' },
    ): void;
  };
}

export function addCallDeadline(client: unknown, deadlineMs: number, service: string): void {
  (client as StackOwner).middlewareStack.add(
    (next, context) => (args) => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new AwsCallDeadlineError(
                `${service} ${context.commandName ?? 'call'} did not answer within ${deadlineMs} ms`,
              ),
            ),
          deadlineMs,
        );
      });
      return Promise.race([next(args), deadline]).finally(() => clearTimeout(timer));
    },
    { step: 'initialize', name: 'auroraHaproxyCallDeadline', priority: 'high' },
  );
}
