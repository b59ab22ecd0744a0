import {
  agentLine,
  asgInstance,
  autoScalingGroup,
  invocation,
  MemoryDeliveryRecords,
  sentCommand,
} from '@aurora-haproxy/test-support/aws-fixtures';
import { awsError, MemoryTopologyCache } from '@aurora-haproxy/test-support/rds-fixtures';
import { RecordingMetrics } from '@aurora-haproxy/test-support/recording';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { ListCommandInvocationsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { REDELIVERY_BACKOFF, retryDelayMs } from '../../../functions/delivery/backoff';
import {
  DELIVERY_METRICS,
  type DeliveryDeps,
  deliverDesired,
  redeliverWhereNeeded,
} from '../../../functions/delivery/deliver';
import { refusedIdsIn } from '../../../functions/delivery/refusals';
import { DEFAULT_SEND_OPTIONS } from '../../../functions/delivery/send';
import { readStatus } from '../../../functions/reconcile/status';
import { silentLog } from '../../../functions/shared/observability';
import { MemoryPointer, MemoryRegistry } from '../reconcile/fakes';

/**
 * Issue 16.3 (one instance SSM does not accept must not block its batch) and 13.5 (an
 * instance that fails every apply is re-sent with backoff and flagged, not every tick).
 */
const ssmMock = mockClient(SSMClient);
const asgMock = mockClient(AutoScalingClient);
const SHA = 'a'.repeat(64);
const GROUP = 'aurora-haproxy-fleet';
const GOOD = ['i-0a1b2c3d4e5f60001', 'i-0a1b2c3d4e5f60002', 'i-0a1b2c3d4e5f60004'];
const BAD = 'i-0a1b2c3d4e5f60003';
const T0 = Date.parse('2026-11-26T09:00:00Z');

let seq = 0;
/** Commands SSM accepted: command id -> its instance ids. */
const accepted = new Map<string, string[]>();
/** SendCommand as SSM answers it: a call naming an invalid target is refused whole. */
function ssmRefusing(bad: ReadonlySet<string>, message: (ids: string[]) => string) {
  ssmMock.on(SendCommandCommand).callsFake((input) => {
    const refused = (input.InstanceIds as string[]).filter((id) => bad.has(id));
    if (refused.length > 0) throw awsError('InvalidInstanceId', message(refused), 400, 1);
    const commandId = `5c3e1a2b-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
    accepted.set(commandId, [...(input.InstanceIds as string[])]);
    return { Command: sentCommand(commandId, input) };
  });
}

function fleet(ids: string[]) {
  asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      autoScalingGroup(
        GROUP,
        ids.map((id) => asgInstance(id)),
      ),
    ],
  });
}

function deps(clock: { now: number }) {
  const records = new MemoryDeliveryRecords();
  const metrics = new RecordingMetrics();
  const d: DeliveryDeps = {
    ssm: new SSMClient({ region: 'eu-west-1', maxAttempts: 1 }),
    autoScaling: new AutoScalingClient({ region: 'eu-west-1' }),
    records,
    fleetGroupName: GROUP,
    send: { documentName: 'aurora-haproxy-apply-bundle', ...DEFAULT_SEND_OPTIONS },
    log: silentLog,
    metrics,
    now: () => new Date(clock.now),
  };
  return { deps: d, records, metrics };
}

function sentIds(): string[][] {
  return [...accepted.values()];
}

beforeEach(() => {
  accepted.clear();
  ssmMock.reset();
  asgMock.reset();
});

describe('an instance SSM refuses as a target (InvalidInstanceId)', () => {
  it('names only ids of the batch', () => {
    const message =
      'Instances [[i-0a1b2c3d4e5f60003, i-0ffffffffffffffff]] not in a valid state for account 123456789012';
    expect(refusedIdsIn(message, [...GOOD, BAD])).toEqual([BAD]);
    expect(refusedIdsIn('', [...GOOD, BAD])).toEqual([]);
  });

  it.each([
    [
      'the error names it',
      (ids: string[]) =>
        `Instances [[${ids.join(', ')}]] not in a valid state for account 123456789012`,
    ],
    ['the error names nothing', () => ''],
  ])('costs only itself when %s: the others get the bundle, it is recorded', async (_, message) => {
    // Prepare
    fleet([...GOOD, BAD].sort());
    ssmRefusing(new Set([BAD]), message);
    const { deps: d, records, metrics } = deps({ now: T0 });

    // Act
    const report = await deliverDesired(d, SHA);

    // Assess
    expect(sentIds().flat().sort()).toEqual(GOOD);
    expect(report).toMatchObject({ sentTo: 3, refusedInstances: [BAD], failedInstances: [BAD] });
    expect(Object.keys(records.state?.instances ?? {}).sort()).toEqual(GOOD);
    expect(records.state?.failing?.[BAD]).toMatchObject({ count: 1, reason: 'refused' });
    expect(records.state?.failing?.[BAD]?.error).toContain('InvalidInstanceId');
    expect(metrics.get(DELIVERY_METRICS.refused)).toBe(1);
    expect(ssmMock.commandCalls(SendCommandCommand).length).toBeLessThanOrEqual(5);
  });

  it('finds every bad instance of a full batch of 50 without its message, in few calls', async () => {
    // Prepare: 50 instances, 3 of them unknown to SSM
    const all = Array.from(
      { length: 50 },
      (_, i) => `i-0a1b2c3d4e5f6${String(i).padStart(4, '0')}`,
    );
    const bad = new Set([all[3], all[27], all[49]] as string[]);
    fleet(all);
    ssmRefusing(bad, () => '');
    const { deps: d } = deps({ now: T0 });

    // Act
    const report = await deliverDesired(d, SHA);

    // Assess
    expect(sentIds().flat().sort()).toEqual(all.filter((id) => !bad.has(id)));
    expect(report.refusedInstances.sort()).toEqual([...bad].sort());
    expect(ssmMock.commandCalls(SendCommandCommand).length).toBeLessThanOrEqual(3 * 2 * 6 + 1);
  });

  it('keeps a throttled batch as a failure of the batch (not a refusal)', async () => {
    // Prepare
    fleet(GOOD);
    ssmMock
      .on(SendCommandCommand)
      .rejects(awsError('ThrottlingException', 'Rate exceeded', 400, 1));
    const { deps: d, records } = deps({ now: T0 });

    // Act
    const report = await deliverDesired(d, SHA);

    // Assess
    expect(report).toMatchObject({ sentTo: 0, refusedInstances: [] });
    expect(report.failedInstances).toEqual(GOOD);
    expect(records.state?.failing).toBeUndefined();
  });
});

describe('an instance that fails every apply', () => {
  it('is re-sent with backoff (ticks 1, 2, 4, 8 of 10), flagged in status, and cleared when it applies', async () => {
    // Prepare: the schedule looks every minute; BAD fails every apply
    const ids = [...GOOD, BAD].sort();
    fleet(ids);
    ssmRefusing(new Set(), () => '');
    ssmMock.on(ListCommandInvocationsCommand).callsFake((input) => {
      const targets = accepted.get(input.CommandId as string) ?? [];
      return {
        CommandInvocations: targets.map((id) =>
          id === BAD && !healed
            ? invocation(
                input.CommandId,
                id,
                'Failed',
                agentLine(SHA, false, 'rollback', 'haproxy -c failed'),
              )
            : invocation(input.CommandId, id, 'Success', agentLine(SHA)),
        ),
      };
    });
    let healed = false;
    const clock = { now: T0 };
    const { deps: d, records, metrics } = deps(clock);
    await deliverDesired(d, SHA);
    const sendsToBad: number[] = [];

    // Act
    for (let tick = 1; tick <= 10; tick++) {
      clock.now = T0 + tick * 60_000;
      const report = await redeliverWhereNeeded(d, SHA);
      if (report.redelivered.some((r) => r.instanceId === BAD)) sendsToBad.push(tick);
    }

    // Assess
    expect(sendsToBad).toEqual([1, 2, 4, 8]);
    expect(metrics.get(DELIVERY_METRICS.backingOff)).toBe(6);
    expect(records.state?.failing?.[BAD]).toMatchObject({ count: 4, reason: 'failed' });
    const pointer = new MemoryPointer();
    pointer.item = { sha256: SHA, version: 1, updatedAt: new Date(T0).toISOString() };
    const status = await readStatus({
      registry: new MemoryRegistry([]),
      pointer,
      topologyCache: new MemoryTopologyCache(),
      records,
      ssm: d.ssm,
      log: silentLog,
      now: () => new Date(clock.now),
    });
    const bad = status.instances.find((i) => i.instanceId === BAD);
    expect(bad).toMatchObject({
      state: 'failed',
      drift: true,
      failedAttempts: 4,
      backingOff: true,
      nextAttemptAt: new Date(T0 + 8 * 60_000 + retryDelayMs(4)).toISOString(),
    });
    expect(status.instances.filter((i) => i.backingOff)).toHaveLength(1);

    // Act: it is repaired; once its backoff expires it applies and is cleared
    healed = true;
    clock.now = T0 + 8 * 60_000 + retryDelayMs(4);
    await redeliverWhereNeeded(d, SHA);
    clock.now += 60_000;
    await redeliverWhereNeeded(d, SHA);
    clock.now += 60_000;
    const quiet = await redeliverWhereNeeded(d, SHA);

    // Assess
    expect(quiet.redelivered).toEqual([]);
    expect(retryDelayMs(40)).toBe(REDELIVERY_BACKOFF.maxMs);
  });
});
