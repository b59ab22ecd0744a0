import { awsErrorMessage, awsErrorName } from '@aurora-haproxy/contract/aws-errors';

/** Errors of the delivery unit (Auto Scaling + SSM Run Command). */
export abstract class DeliveryError extends Error {}

/** The fleet's instances could not be listed (DescribeAutoScalingGroups failed or no such group). */
export class FleetLookupError extends DeliveryError {
  override readonly name = 'FleetLookupError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** SendCommand failed for some instances; the ones that were sent are recorded. */
export class SendCommandError extends DeliveryError {
  override readonly name = 'SendCommandError';
  readonly awsName: string;
  constructor(
    readonly instanceIds: readonly string[],
    cause: unknown,
  ) {
    super(`SendCommand to ${instanceIds.length} instance(s) failed: ${awsErrorMessage(cause)}`, {
      cause,
    });
    this.awsName = awsErrorName(cause);
  }
}

/** ListCommandInvocations failed: per-instance results are unknown. */
export class InvocationLookupError extends DeliveryError {
  override readonly name = 'InvocationLookupError';
  constructor(commandId: string, cause: unknown) {
    super(`ListCommandInvocations for ${commandId} failed: ${awsErrorMessage(cause)}`, { cause });
  }
}
