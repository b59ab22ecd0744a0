import { SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { DeliveryCommandRecord } from '../state/delivery-records';
import { SendCommandError } from './errors';

/** SendCommand accepts at most 50 instance ids per call. */
export const SEND_COMMAND_MAX_INSTANCES = 50;

export interface SendOptions {
  /** The project's command document (SSM_DOCUMENT_NAME). */
  documentName: string;
  /**
   * How many instances apply at once. Half the fleet at most: the other half keeps serving
   * through the NLB while the first applies, whatever happens to it.
   */
  maxConcurrency: string;
  /** Errors after which SSM stops sending to further instances (they are re-delivered later). */
  maxErrors: string;
  /** Seconds an instance may take to start the command before SSM gives up (>= 30). */
  timeoutSeconds: number;
  /** Send the output to CloudWatch Logs too (optional). */
  cloudWatchLogGroup?: string;
}

export const DEFAULT_SEND_OPTIONS: Omit<SendOptions, 'documentName'> = {
  maxConcurrency: '50%',
  maxErrors: '1',
  timeoutSeconds: 300,
};

export interface SendOutcome {
  sent: DeliveryCommandRecord[];
  /** Batches SendCommand refused (after the SDK's retries). */
  failures: SendCommandError[];
}

/** Send `apply --sha256 <sha>` to these instances, 50 per command. */
export async function sendApplyCommands(
  ssm: SSMClient,
  options: SendOptions,
  sha256: string,
  instanceIds: readonly string[],
  reason: string,
  now: Date,
): Promise<SendOutcome> {
  const outcome: SendOutcome = { sent: [], failures: [] };
  for (let i = 0; i < instanceIds.length; i += SEND_COMMAND_MAX_INSTANCES) {
    const batch = instanceIds.slice(i, i + SEND_COMMAND_MAX_INSTANCES);
    try {
      const out = await ssm.send(
        new SendCommandCommand({
          DocumentName: options.documentName,
          Parameters: { sha256: [sha256] },
          InstanceIds: batch,
          MaxConcurrency: options.maxConcurrency,
          MaxErrors: options.maxErrors,
          TimeoutSeconds: options.timeoutSeconds,
          Comment: `aurora-haproxy ${reason} ${sha256.slice(0, 12)}`.slice(0, 100),
          ...(options.cloudWatchLogGroup
            ? {
                CloudWatchOutputConfig: {
                  CloudWatchOutputEnabled: true,
                  CloudWatchLogGroupName: options.cloudWatchLogGroup,
                },
              }
            : {}),
        }),
      );
      const commandId = out.Command?.CommandId;
      if (!commandId) throw new Error('SendCommand returned no CommandId');
      outcome.sent.push({
        commandId,
        sha256,
        instanceIds: [...batch],
        requestedAt: now.toISOString(),
        reason,
      });
    } catch (error) {
      outcome.failures.push(new SendCommandError(batch, error));
    }
  }
  return outcome;
}
