import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Log, MetricSink } from '../shared/observability';
import type { DeliveryCommandRecord, DeliveryState } from '../state/delivery-records';
import { listFleetInstances } from './fleet';
import { type InstanceInvocation, listInvocations } from './invocations';
import { decideRedelivery, LOOKUP_FAILED, type RedeliveryReason } from './redelivery';
import { type SendOptions, sendApplyCommands } from './send';

/** The part of state/delivery-records.ts delivery uses. */
export interface DeliveryRecordsLike {
  record(
    commands: readonly DeliveryCommandRecord[],
    state: DeliveryState,
    options?: { merge?: boolean },
  ): Promise<'recorded' | 'superseded'>;
  readState(): Promise<DeliveryState | undefined>;
}

export interface DeliveryDeps {
  ssm: SSMClient;
  autoScaling: AutoScalingClient;
  records: DeliveryRecordsLike;
  /** FLEET_ASG_NAME */
  fleetGroupName: string;
  send: SendOptions;
  log: Log;
  metrics: MetricSink;
  now: () => Date;
}

export interface DeliveryReport {
  commands: DeliveryCommandRecord[];
  /** Instances the desired sha was sent to by this call. */
  sentTo: number;
  redelivered: { instanceId: string; reason: RedeliveryReason }[];
  /** Instances SendCommand refused; the scheduled check sends to them again. */
  failedInstances: string[];
}

export const DELIVERY_METRICS = {
  commands: 'SsmCommandsSent',
  redelivered: 'InstancesRedelivered',
  sendFailures: 'SsmSendFailures',
} as const;

/** Send a new desired sha to every InService instance, and record the commands. */
export async function deliverDesired(deps: DeliveryDeps, sha256: string): Promise<DeliveryReport> {
  const fleet = await listFleetInstances(deps.autoScaling, deps.fleetGroupName);
  return send(deps, sha256, fleet, 'new-desired', undefined);
}

/**
 * The scheduled safety net: look at what each instance did with the desired sha and send
 * it again to those that failed, timed out, joined since, or report another sha.
 */
export async function redeliverWhereNeeded(
  deps: DeliveryDeps,
  sha256: string,
): Promise<DeliveryReport> {
  const [state, fleet] = await Promise.all([
    deps.records.readState(),
    listFleetInstances(deps.autoScaling, deps.fleetGroupName),
  ]);
  const invocations =
    state?.sha256 === sha256 ? await collectInvocations(deps, state, fleet) : new Map();
  const decision = decideRedelivery(sha256, fleet, state, invocations);
  if (decision.redeliver.length === 0) {
    return { commands: [], sentTo: 0, redelivered: [], failedInstances: [] };
  }
  const undelivered = decision.redeliver.every((r) => r.reason === 'undelivered');
  const report = await send(
    deps,
    sha256,
    decision.redeliver.map((r) => r.instanceId),
    undelivered ? 'new-desired' : 'redeliver',
    state?.sha256 === sha256 ? keepFleet(state, fleet) : undefined,
  );
  deps.metrics.count(DELIVERY_METRICS.redelivered, report.sentTo);
  deps.log.info('re-delivered the desired bundle', { sha256, instances: decision.redeliver });
  return { ...report, redelivered: decision.redeliver };
}

/**
 * The latest invocation of each fleet instance for the recorded commands (one
 * ListCommandInvocations per command, not per instance). A command whose lookup fails is
 * logged and its instances left out (treated as unknown, re-checked next time).
 */
export async function collectInvocations(
  deps: Pick<DeliveryDeps, 'ssm' | 'log'>,
  state: DeliveryState,
  instanceIds: readonly string[],
): Promise<Map<string, InstanceInvocation>> {
  const wanted = new Set(instanceIds);
  const commandIds = [
    ...new Set(
      Object.entries(state.instances)
        .filter(([instanceId]) => wanted.has(instanceId))
        .map(([, commandId]) => commandId),
    ),
  ];
  const byInstance = new Map<string, InstanceInvocation>();
  for (const commandId of commandIds) {
    let invocations: InstanceInvocation[];
    try {
      invocations = await listInvocations(deps.ssm, commandId);
    } catch (error) {
      deps.log.warn('could not read command invocations', {
        commandId,
        error: (error as Error).message,
      });
      const unknown = Object.entries(state.instances).filter(([, c]) => c === commandId);
      for (const [instanceId] of unknown) {
        byInstance.set(instanceId, { instanceId, commandId, status: LOOKUP_FAILED });
      }
      continue;
    }
    for (const invocation of invocations) {
      if (state.instances[invocation.instanceId] === commandId) {
        byInstance.set(invocation.instanceId, invocation);
      }
    }
  }
  return byInstance;
}

async function send(
  deps: DeliveryDeps,
  sha256: string,
  instanceIds: readonly string[],
  reason: string,
  keep: Record<string, string> | undefined,
): Promise<DeliveryReport> {
  const now = deps.now();
  const outcome = await sendApplyCommands(deps.ssm, deps.send, sha256, instanceIds, reason, now);
  const instances: Record<string, string> = { ...(keep ?? {}) };
  for (const command of outcome.sent) {
    for (const instanceId of command.instanceIds) instances[instanceId] = command.commandId;
  }
  const failedInstances = outcome.failures.flatMap((f) => [...f.instanceIds]);
  for (const instanceId of failedInstances) delete instances[instanceId];
  const recorded = await deps.records.record(
    outcome.sent,
    { sha256, updatedAt: now.toISOString(), instances },
    { merge: keep !== undefined },
  );
  if (recorded === 'superseded') {
    deps.log.warn('a newer bundle is desired: this delivery state was not recorded', { sha256 });
  }
  deps.metrics.count(DELIVERY_METRICS.commands, outcome.sent.length);
  if (outcome.failures.length > 0) {
    deps.metrics.count(DELIVERY_METRICS.sendFailures, failedInstances.length);
    deps.log.error('SendCommand failed for some instances; the scheduled check retries them', {
      sha256,
      failures: outcome.failures.map((f) => f.message),
    });
  }
  return {
    commands: outcome.sent,
    sentTo: instanceIds.length - failedInstances.length,
    redelivered: [],
    failedInstances,
  };
}

/** The recorded commands of instances still in the fleet. */
function keepFleet(state: DeliveryState, fleet: readonly string[]): Record<string, string> {
  const inFleet = new Set(fleet);
  return Object.fromEntries(Object.entries(state.instances).filter(([id]) => inFleet.has(id)));
}
