/** Small helpers to read what an AWS SDK v3 exception says, without depending on its class. */
export function awsErrorName(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [e.name, e.Code, e.code]) if (typeof v === 'string' && v) return v;
  }
  return 'UnknownError';
}

export function awsErrorMessage(error: unknown): string {
  if (error instanceof Error) return `${awsErrorName(error)}: ${error.message}`;
  return String(error);
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return awsErrorName(error) === 'ConditionalCheckFailedException';
}
