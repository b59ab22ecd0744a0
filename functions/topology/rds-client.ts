import { RDSClient, type RDSClientConfig } from '@aws-sdk/client-rds';
import { retryingClientConfig } from '../shared/sdk-client-config';

/**
 * RDS client for the topology adapter. RDS API limits are per account and shared with
 * everything else: adaptive retry mode backs off with a client-side rate limiter when it
 * sees throttling, on top of the exponential backoff of each retry. A request that hangs is
 * cut off so the reconcile can fall back to the last known topology well within its timeout.
 */
export const RDS_MAX_ATTEMPTS = 5;
export const RDS_REQUEST_TIMEOUT_MS = 5_000;

export function createRdsClient(config: RDSClientConfig = {}): RDSClient {
  return new RDSClient({
    ...retryingClientConfig(RDS_REQUEST_TIMEOUT_MS),
    maxAttempts: RDS_MAX_ATTEMPTS,
    ...config,
  });
}
