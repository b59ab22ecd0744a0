import { awsErrorMessage, awsErrorName } from '@aurora-haproxy/contract/aws-errors';

/** Errors of the topology unit (the RDS adapter). */
export abstract class TopologyError extends Error {}

/**
 * An RDS API call failed after the SDK's own retries (throttling, 5xx, timeout, network).
 * A fault, never a topology change: the caller falls back to the last known topology.
 */
export class RdsApiError extends TopologyError {
  override readonly name = 'RdsApiError';
  /** The SDK's error name, e.g. ThrottlingException, InternalFailure, TimeoutError. */
  readonly awsName: string;
  constructor(operation: string, cause: unknown) {
    const attempts = (cause as { $metadata?: { attempts?: number } })?.$metadata?.attempts;
    super(
      `${operation} failed${attempts ? ` after ${attempts} attempts` : ''}: ${awsErrorMessage(cause)}`,
      { cause },
    );
    this.awsName = awsErrorName(cause);
  }
}
