import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDeliveryRecords } from '@aurora-haproxy/test-support/aws-fixtures';
import { MemoryTopologyCache } from '@aurora-haproxy/test-support/rds-fixtures';
import { RecordingMetrics } from '@aurora-haproxy/test-support/recording';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { ListCommandInvocationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DeliveryDeps,
  deliverDesired,
  redeliverWhereNeeded,
} from '../../../functions/delivery/deliver';
import { DEFAULT_SEND_OPTIONS } from '../../../functions/delivery/send';
import { readStatus } from '../../../functions/reconcile/status';
import { silentLog } from '../../../functions/shared/observability';
import {
  type AwsStandin,
  startAwsStandin,
} from '../../../packages/local-stack/aws-standin/aws-standin';
import type {
  FleetInstanceView,
  FleetView,
} from '../../../packages/local-stack/aws-standin/fleet-view';
import { loadSsmDocument } from '../../../packages/local-stack/aws-standin/ssm-document';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { MemoryPointer, MemoryRegistry } from '../../unit/reconcile/fakes';

/**
 * Issue 16.3 on the SSM stand-in (real SDK clients, the real apply-bundle document run on
 * each instance with a recording agent): an InService instance SSM does not know must not
 * block delivery to the others, and an invocation that never starts ends DeliveryTimedOut
 * and is re-delivered.
 */
const SHA = 'cd'.repeat(32);
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const dirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** An `aurora-haproxy-agent` that applies nothing and reports the sha, like `unchanged`. */
function agentBin(): string {
  const dir = join(tempDir('ah-ssm-delivery-agent-'), 'bin');
  mkdirSync(dir);
  const path = join(dir, 'aurora-haproxy-agent');
  writeFileSync(
    path,
    '#!/bin/sh\n[ "$1" = apply ] && [ "$2" = --sha256 ] || exit 64\n' +
      'echo "{\\"ok\\":true,\\"sha256\\":\\"$3\\",\\"action\\":\\"unchanged\\",\\"durationMs\\":1}"\n',
  );
  chmodSync(path, 0o755);
  return dir;
}

function instance(
  id: string,
  bin: string,
  overrides: Partial<FleetInstanceView> = {},
): FleetInstanceView {
  return {
    instanceId: id,
    az: 'us-east-1a',
    lifecycleState: 'InService',
    healthStatus: 'Healthy',
    ssmOnline: true,
    commandEnv: { PATH: `${bin}:/usr/bin:/bin`, AURORA_HAPROXY_AGENT_CONFIG: '/etc/agent.json' },
    workDir: tempDir(`ah-ssm-delivery-${id}-`),
    ...overrides,
  };
}

describe('delivery through the SSM stand-in', () => {
  let standin: AwsStandin;
  let ssm: SSMClient;
  let autoScaling: AutoScalingClient;
  const instances: FleetInstanceView[] = [];
  const fleet: FleetView = {
    groupName: 'haproxy-fleet',
    minSize: 1,
    maxSize: 6,
    instances: () => instances,
  };

  beforeAll(async () => {
    const applyBundle = await loadSsmDocument(
      'AuroraHaproxy-ApplyBundle',
      'infra/ssm/apply-bundle.yml',
    );
    standin = await startAwsStandin({
      fleet,
      documents: [applyBundle],
      deliveryTimeoutSeconds: 1,
    });
    const endpoint = standin.endpoint;
    ssm = new SSMClient({
      region: 'us-east-1',
      credentials: CREDENTIALS,
      endpoint,
      maxAttempts: 1,
    });
    autoScaling = new AutoScalingClient({
      region: 'us-east-1',
      credentials: CREDENTIALS,
      endpoint,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    ssm?.destroy();
    autoScaling?.destroy();
    await standin?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function deps(records: MemoryDeliveryRecords, now: () => Date = () => new Date()): DeliveryDeps {
    return {
      ssm,
      autoScaling,
      records,
      fleetGroupName: 'haproxy-fleet',
      send: { documentName: 'AuroraHaproxy-ApplyBundle', ...DEFAULT_SEND_OPTIONS },
      log: silentLog,
      metrics: new RecordingMetrics(),
      now,
    };
  }

  const finished = (commandIds: string[]) =>
    waitFor(
      'the commands to end',
      async () => {
        const all = [];
        for (const CommandId of commandIds) {
          const out = await ssm.send(
            new ListCommandInvocationsCommand({ CommandId, Details: true }),
          );
          all.push(...(out.CommandInvocations ?? []));
        }
        return all.every((i) => !['Pending', 'InProgress'].includes(i.Status ?? '')) && all;
      },
      { timeoutMs: 20_000 },
    );

  it('one InService instance unknown to SSM costs only itself; status shows it refused', async () => {
    // Prepare: three InService hosts, the middle one not (or no longer) managed by SSM
    const bin = agentBin();
    instances.splice(
      0,
      instances.length,
      instance('i-0a00000000000000a', bin),
      instance('i-0b00000000000000b', bin, { ssmOnline: false }),
      instance('i-0c00000000000000c', bin),
    );
    const records = new MemoryDeliveryRecords();

    // Act
    const report = await deliverDesired(deps(records), SHA);
    const invocations = await finished(report.commands.map((c) => c.commandId));

    // Assess: 2 of 3 hosts got and applied the sha; the third is recorded as refused
    expect(report).toMatchObject({ sentTo: 2, refusedInstances: ['i-0b00000000000000b'] });
    expect(invocations.map((i) => [i.InstanceId, i.Status]).sort()).toEqual([
      ['i-0a00000000000000a', 'Success'],
      ['i-0c00000000000000c', 'Success'],
    ]);
    const pointer = new MemoryPointer();
    pointer.item = { sha256: SHA, version: 1, updatedAt: new Date().toISOString() };
    const status = await readStatus({
      registry: new MemoryRegistry([]),
      pointer,
      topologyCache: new MemoryTopologyCache(),
      records,
      ssm,
      log: silentLog,
    });
    expect(status.instances.map((i) => [i.instanceId, i.state])).toEqual([
      ['i-0a00000000000000a', 'in-sync'],
      ['i-0b00000000000000b', 'refused'],
      ['i-0c00000000000000c', 'in-sync'],
    ]);
    expect(status.instances[1]).toMatchObject({ failedAttempts: 1, drift: true });
    expect(status.instances[1]?.error).toContain('InvalidInstanceId');
  });

  it('an invocation that never starts goes Pending -> TimedOut (DeliveryTimedOut) and is re-delivered', async () => {
    // Prepare: the agent of one host never picks commands up
    const bin = agentBin();
    const stuck = instance('i-0d00000000000000d', bin, { commandsNeverStart: true });
    instances.splice(0, instances.length, instance('i-0a00000000000000a', bin), stuck);
    const records = new MemoryDeliveryRecords();
    const report = await deliverDesired(deps(records), SHA);
    const commandId = report.commands[0]?.commandId as string;
    const pending = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }));
    expect(pending.CommandInvocations?.find((i) => i.InstanceId === stuck.instanceId)?.Status).toBe(
      'Pending',
    );

    // Act: the delivery timeout passes; the scheduled check looks
    const invocations = await finished([commandId]);
    stuck.commandsNeverStart = false;
    const redelivery = await redeliverWhereNeeded(deps(records), SHA);
    await finished(redelivery.commands.map((c) => c.commandId));
    const after = await redeliverWhereNeeded(deps(records), SHA);

    // Assess
    const timedOut = invocations.find((i) => i.InstanceId === stuck.instanceId);
    expect(timedOut).toMatchObject({ Status: 'TimedOut', StatusDetails: 'DeliveryTimedOut' });
    expect(timedOut?.CommandPlugins?.[0]?.Output).toBe('');
    expect(redelivery.redelivered).toEqual([{ instanceId: stuck.instanceId, reason: 'timed-out' }]);
    expect(after.redelivered).toEqual([]);
  });
});
