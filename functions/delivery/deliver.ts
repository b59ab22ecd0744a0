import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Log, MetricSink } from '../shared/observability';
import type { DeliveryCommandRecord, DeliveryState } from '../state/delivery-records';
import { type FailingEntry, isFailureReason, splitByBackoff } from './backoff';
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
  /** Of those, the ones refused as targets (InvalidInstanceId): their batch went to the rest. */
  refusedInstances: string[];
  /** Failing instances not re-sent this time: their backoff has not expired. */
  backingOff: string[];
}

export const DELIVERY_METRICS = {
  commands: 'SsmCommandsSent',
  redelivered: 'InstancesRedelivered',
  sendFailures: 'SsmSendFailures',
  refused: 'SsmInstancesRefused',
  backingOff: 'InstancesBackingOff',
} as const;

/** Send a new desired sha to every InService instance, and record the commands. */
export async function deliverDesired(deps: DeliveryDeps, sha256: string): Promise<DeliveryReport> {
  const fleet = await listFleetInstances(deps.autoScaling, deps.fleetGroupName);
  return send(deps, sha256, fleet, 'new-desired', undefined, {});
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
  const sameSha = state?.sha256 === sha256;
  const previousFailing = sameSha ? (state?.failing ?? {}) : {};
  const now = deps.now();
  const { due, held } = splitByBackoff(decision.redeliver, previousFailing, now);
  if (held.length > 0) {
    deps.metrics.count(DELIVERY_METRICS.backingOff, held.length);
    deps.log.warn('instances keep failing: not re-sent until their backoff expires', {
      sha256,
      instances: held,
    });
  }
  const empty = { commands: [], sentTo: 0, failedInstances: [], refusedInstances: [] };
  if (due.length === 0) {
    return { ...empty, redelivered: [], backingOff: held.map((r) => r.instanceId) };
  }
  // This attempt counts against every failing instance it goes to; applied ones are cleared.
  const inFleet = new Set(fleet);
  const failing: Record<string, FailingEntry> = {};
  for (const [id, entry] of Object.entries(previousFailing)) {
    if (inFleet.has(id) && !decision.applied.includes(id)) failing[id] = entry;
  }
  for (const r of due) {
    if (!isFailureReason(r.reason)) continue;
    const previous = failing[r.instanceId];
    failing[r.instanceId] = {
      count: (previous?.count ?? 0) + 1,
      lastAt: now.toISOString(),
      reason: r.reason,
      ...(previous?.error ? { error: previous.error } : {}),
    };
  }
  const undelivered = due.every((r) => r.reason === 'undelivered');
  const report = await send(
    deps,
    sha256,
    due.map((r) => r.instanceId),
    undelivered ? 'new-desired' : 'redeliver',
    sameSha && state ? keepFleet(state, fleet) : undefined,
    failing,
  );
  deps.metrics.count(DELIVERY_METRICS.redelivered, report.sentTo);
  deps.log.info('re-delivered the desired bundle', { sha256, instances: due });
  return { ...report, redelivered: due, backingOff: held.map((r) => r.instanceId) };
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
        error: errorMessage(error),
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
  failing: Record<string, FailingEntry>,
): Promise<
  Omit<DeliveryReport, 'redelivered' | 'backingOff'> & { redelivered: []; backingOff: [] }
> {
  const now = deps.now();
  const outcome = await sendApplyCommands(deps.ssm, deps.send, sha256, instanceIds, reason, now);
  const instances: Record<string, string> = { ...(keep ?? {}) };
  for (const command of outcome.sent) {
    for (const instanceId of command.instanceIds) instances[instanceId] = command.commandId;
  }
  const refusedInstances = outcome.refused.map((r) => r.instanceId);
  const failedInstances = [
    ...outcome.failures.flatMap((f) => [...f.instanceIds]),
    ...refusedInstances,
  ];
  for (const instanceId of failedInstances) delete instances[instanceId];
  // A refused instance is recorded (for status and backoff); its batch went to the others.
  for (const { instanceId, error } of outcome.refused) {
    const previous = failing[instanceId];
    failing[instanceId] = {
      count: previous?.lastAt === now.toISOString() ? previous.count : (previous?.count ?? 0) + 1,
      lastAt: now.toISOString(),
      reason: 'refused',
      error,
    };
  }
  const recorded = await deps.records.record(
    outcome.sent,
    {
      sha256,
      updatedAt: now.toISOString(),
      instances,
      ...(Object.keys(failing).length > 0 ? { failing } : {}),
    },
    { merge: keep !== undefined },
  );
  if (recorded === 'superseded') {
    deps.log.warn('a newer bundle is desired: this delivery state was not recorded', { sha256 });
  }
  deps.metrics.count(DELIVERY_METRICS.commands, outcome.sent.length);
  if (outcome.refused.length > 0) {
    deps.metrics.count(DELIVERY_METRICS.refused, outcome.refused.length);
    deps.log.error('SendCommand refused some instances as targets; the others were sent to', {
      sha256,
      refused: outcome.refused,
    });
  }
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
    refusedInstances,
    backingOff: [],
  };
}

/** The recorded commands of instances still in the fleet. */
function keepFleet(state: DeliveryState, fleet: readonly string[]): Record<string, string> {
  const inFleet = new Set(fleet);
  return Object.fromEntries(Object.entries(state.instances).filter(([id]) => inFleet.has(id)));
}
