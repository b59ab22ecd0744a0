import { awsErrorName } from '@aurora-haproxy/contract/aws-errors';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { DeliveryCommandRecord } from '../state/delivery-records';
import { SendCommandError } from './errors';
import { INVALID_INSTANCE_ID, refusedIdsIn } from './refusals';

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
  /** Batches SendCommand refused (after the SDK's retries), for reasons not tied to one instance. */
  failures: SendCommandError[];
  /** Instances SendCommand refused as targets (InvalidInstanceId); the rest of their batch was sent. */
  refused: { instanceId: string; error: string }[];
}

/**
 * Send `apply --sha256 <sha>` to these instances, 50 per command. A batch refused with
 * InvalidInstanceId is sent again without the instances the error names (or, when it names
 * none, in halves) until only the bad instances are left out: one bad instance costs itself
 * and a few extra calls (at most about 2·log2(50) per bad instance), never its batch.
 */
export async function sendApplyCommands(
  ssm: SSMClient,
  options: SendOptions,
  sha256: string,
  instanceIds: readonly string[],
  reason: string,
  now: Date,
): Promise<SendOutcome> {
  const outcome: SendOutcome = { sent: [], failures: [], refused: [] };
  const sendBatch = async (batch: readonly string[]): Promise<void> => {
    try {
      outcome.sent.push(await sendOne(ssm, options, sha256, batch, reason, now));
    } catch (error) {
      if (awsErrorName(error) !== INVALID_INSTANCE_ID) {
        outcome.failures.push(new SendCommandError(batch, error));
        return;
      }
      const message = errorMessage(error);
      const refusal = `${INVALID_INSTANCE_ID}: ${message}`.slice(0, 300);
      if (batch.length === 1) {
        outcome.refused.push({ instanceId: batch[0] as string, error: refusal });
        return;
      }
      const named = refusedIdsIn(message, batch);
      if (named.length > 0) {
        for (const instanceId of named) outcome.refused.push({ instanceId, error: refusal });
        const rest = batch.filter((id) => !named.includes(id));
        if (rest.length > 0) await sendBatch(rest);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await sendBatch(batch.slice(0, half));
      await sendBatch(batch.slice(half));
    }
  };
  for (let i = 0; i < instanceIds.length; i += SEND_COMMAND_MAX_INSTANCES) {
    await sendBatch(instanceIds.slice(i, i + SEND_COMMAND_MAX_INSTANCES));
  }
  return outcome;
}

async function sendOne(
  ssm: SSMClient,
  options: SendOptions,
  sha256: string,
  batch: readonly string[],
  reason: string,
  now: Date,
): Promise<DeliveryCommandRecord> {
  const out = await ssm.send(
    new SendCommandCommand({
      DocumentName: options.documentName,
      Parameters: { sha256: [sha256] },
      InstanceIds: [...batch],
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
  return { commandId, sha256, instanceIds: [...batch], requestedAt: now.toISOString(), reason };
}
