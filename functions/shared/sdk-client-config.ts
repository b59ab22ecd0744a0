/**
 * Settings every AWS SDK client of the orchestrator shares: backoff retries in adaptive mode
 * (a client-side rate limiter that slows down when it sees throttling), and requests that
 * hang are cut off so a run can fall back (last known topology, next schedule) in time.
 */
export function retryingClientConfig(requestTimeoutMs: number) {
  return {
    maxAttempts: 5,
    retryMode: 'adaptive',
    requestHandler: {
      requestTimeout: requestTimeoutMs,
      connectionTimeout: 2_000,
      // Without this a request past requestTimeout only logs a warning and keeps waiting.
      throwOnRequestTimeout: true,
    },
  } as const;
}
