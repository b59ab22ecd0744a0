import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AwsStandin,
  startAwsStandin,
} from '../../../packages/local-stack/aws-standin/aws-standin';
import type {
  CommandDocument,
  FleetInstanceView,
  FleetView,
} from '../../../packages/local-stack/aws-standin/fleet-view';
import {
  loadSsmDocument,
  ssmDocument,
} from '../../../packages/local-stack/aws-standin/ssm-document';
import { waitFor } from '../../../packages/local-stack/process/wait';
import { parseCommandDocument } from '../../../packages/local-stack/ssm-document-runner';

/**
 * A stand-in document for the protocol tests: runs its `script` parameter with bash in the
 * instance's environment (the real apply-bundle document is exercised in the stack tests).
 */
const scriptDocument: CommandDocument = {
  name: 'Test-RunScript',
  stepNames: ['runScript'],
  validateParameters(parameters) {
    const script = parameters.script;
    if (script?.length !== 1) throw new Error('parameter script: exactly one value is required');
  },
  run(instance, parameters, signal) {
    return new Promise((resolve) => {
      execFile(
        'bash',
        ['--norc', '--noprofile', '-c', parameters.script?.[0] ?? ''],
        { env: instance.commandEnv, cwd: instance.workDir, signal, maxBuffer: 10 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ exitCode: code, stdout, stderr, timedOut: signal.aborted });
        },
      );
    });
  },
};

/** A stand-in `aurora-haproxy-agent` on the instance's PATH that reports what it was asked. */
function fakeAgentBin(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ah-fake-agent-'));
  mkdirSync(join(dir, 'bin'));
  const path = join(dir, 'bin', 'aurora-haproxy-agent');
  writeFileSync(
    path,
    '#!/bin/sh\n[ "$1" = apply ] && [ "$2" = --sha256 ] || exit 64\n' +
      'echo "{\\"ok\\":true,\\"sha256\\":\\"$3\\",\\"action\\":\\"unchanged\\",\\"durationMs\\":1,\\"config\\":\\"$AURORA_HAPROXY_AGENT_CONFIG\\"}"\n',
  );
  chmodSync(path, 0o755);
  return join(dir, 'bin');
}
const agentBin = fakeAgentBin();

function instance(id: string, name: string, az: string): FleetInstanceView {
  return {
    instanceId: id,
    az,
    lifecycleState: 'InService',
    healthStatus: 'Healthy',
    ssmOnline: true,
    commandEnv: {
      PATH: `${agentBin}:/usr/bin:/bin`,
      HOST_NAME: name,
      AURORA_HAPROXY_AGENT_CONFIG: `/etc/${name}/agent.json`,
    },
    workDir: mkdtempSync(join(tmpdir(), `ah-inst-${name}-`)),
  };
}

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** A YAML command document whose one step outlives the stand-in's 2 s execution timeout. */
const sleepDocument = ssmDocument(
  'Test-Sleep',
  parseCommandDocument(`
schemaVersion: '2.2'
description: sleeps past the execution timeout
mainSteps:
  - action: aws:runShellScript
    name: sleep
    inputs:
      runCommand: ['sleep 30']
`),
);

describe('SSM and Auto Scaling stand-in with the real SDK clients', () => {
  let standin: AwsStandin;
  let ssm: SSMClient;
  let autoscaling: AutoScalingClient;
  const instances = [
    instance('i-0a00000000000000a', 'alpha', 'us-east-1a'),
    instance('i-0b00000000000000b', 'beta', 'us-east-1b'),
  ];
  const fleet: FleetView = {
    groupName: 'haproxy-fleet',
    minSize: 1,
    maxSize: 4,
    instances: () => instances,
  };

  beforeAll(async () => {
    const applyBundle = await loadSsmDocument(
      'AuroraHaproxy-ApplyBundle',
      'infra/ssm/apply-bundle.yml',
    );
    standin = await startAwsStandin({
      fleet,
      documents: [scriptDocument, applyBundle, sleepDocument],
      executionTimeoutSeconds: 2,
    });
    // Only the endpoint variables are set, as in the local stack's Lambda environment.
    process.env.AWS_ENDPOINT_URL_SSM = standin.endpoint;
    process.env.AWS_ENDPOINT_URL_AUTO_SCALING = standin.endpoint;
    ssm = new SSMClient({ region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 });
    autoscaling = new AutoScalingClient({
      region: 'us-east-1',
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    ssm?.destroy();
    autoscaling?.destroy();
    delete process.env.AWS_ENDPOINT_URL_SSM;
    delete process.env.AWS_ENDPOINT_URL_AUTO_SCALING;
    await standin?.close();
  });

  const send = async (script: string, instanceIds = instances.map((i) => i.instanceId)) => {
    const out = await ssm.send(
      new SendCommandCommand({
        DocumentName: scriptDocument.name,
        InstanceIds: instanceIds,
        Parameters: { script: [script] },
      }),
    );
    return out.Command?.CommandId as string;
  };
  const finished = (commandId: string) =>
    waitFor(`command ${commandId} to finish`, async () => {
      const out = await ssm.send(
        new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }),
      );
      const all = out.CommandInvocations ?? [];
      return (
        all.length > 0 &&
        all.every((i) => !['Pending', 'InProgress'].includes(i.Status ?? '')) &&
        all
      );
    });

  it('lists the fleet as an Auto Scaling group with InService, Healthy instances', async () => {
    // Act
    const out = await autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['haproxy-fleet'] }),
    );
    const none = await autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['other'] }),
    );

    // Assess
    const group = out.AutoScalingGroups?.[0];
    expect(group?.AutoScalingGroupName).toBe('haproxy-fleet');
    expect(group?.DesiredCapacity).toBe(2);
    expect(group?.AvailabilityZones).toEqual(['us-east-1a', 'us-east-1b']);
    expect(group?.Instances?.map((i) => [i.InstanceId, i.LifecycleState, i.HealthStatus])).toEqual([
      ['i-0a00000000000000a', 'InService', 'Healthy'],
      ['i-0b00000000000000b', 'InService', 'Healthy'],
    ]);
    expect(none.AutoScalingGroups).toEqual([]);
  });

  it('runs the document on each instance with its own environment and records Success / Failed', async () => {
    // Act
    const commandId = await send(
      'echo "on $HOST_NAME"; [ "$HOST_NAME" = alpha ] || { echo broken >&2; exit 3; }',
    );
    const invocations = await finished(commandId);

    // Assess
    const byId = Object.fromEntries(invocations.map((i) => [i.InstanceId, i]));
    expect(byId['i-0a00000000000000a']?.Status).toBe('Success');
    expect(byId['i-0b00000000000000b']?.Status).toBe('Failed');
    expect(byId['i-0a00000000000000a']?.CommandPlugins?.[0]).toMatchObject({
      Name: 'runScript',
      ResponseCode: 0,
      Output: 'on alpha\n',
    });
    expect(byId['i-0b00000000000000b']?.CommandPlugins?.[0]?.Output).toContain(
      '----------ERROR-------\nbroken',
    );
    const beta = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: 'i-0b00000000000000b' }),
    );
    expect(beta).toMatchObject({
      Status: 'Failed',
      ResponseCode: 3,
      PluginName: 'runScript',
      StandardOutputContent: 'on beta\n',
      StandardErrorContent: 'broken\n',
    });
    expect(beta.ExecutionStartDateTime).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('runs the real apply-bundle document: the agent on each instance gets the sha and its config', async () => {
    // Prepare
    const sha = 'ab'.repeat(32);

    // Act
    const out = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AuroraHaproxy-ApplyBundle',
        InstanceIds: instances.map((i) => i.instanceId),
        Parameters: { sha256: [sha] },
      }),
    );
    const invocations = await finished(out.Command?.CommandId as string);

    // Assess
    expect(invocations.map((i) => i.Status)).toEqual(['Success', 'Success']);
    const results = invocations.map((i) => JSON.parse(i.CommandPlugins?.[0]?.Output ?? '{}'));
    expect(results.map((r) => [r.sha256, r.config])).toEqual([
      [sha, '/etc/alpha/agent.json'],
      [sha, '/etc/beta/agent.json'],
    ]);
    expect(invocations[0]?.CommandPlugins?.[0]?.Name).toBe('applyBundle');
    await expect(
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'AuroraHaproxy-ApplyBundle',
          InstanceIds: ['i-0a00000000000000a'],
          Parameters: { sha256: ['not-a-sha; rm -rf /'] },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameters' });
  });

  it('shows InProgress while a step runs, and an empty output until it ends', async () => {
    // Act
    const commandId = await send('sleep 0.6; echo done', ['i-0a00000000000000a']);
    await new Promise((r) => setTimeout(r, 150));
    const during = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: 'i-0a00000000000000a' }),
    );
    await finished(commandId);

    // Assess
    expect(during.Status).toBe('InProgress');
    expect(during.StandardOutputContent).toBe('');
  });

  it('truncates output as SSM does: 2,500 characters in the plugin Output, 24,000 in stdout', async () => {
    // Act
    const commandId = await send("head -c 30000 /dev/zero | tr '\\0' x", ['i-0a00000000000000a']);
    const [invocation] = await finished(commandId);
    const full = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: 'i-0a00000000000000a' }),
    );

    // Assess
    expect(invocation?.CommandPlugins?.[0]?.Output).toHaveLength(2500);
    expect(full.StandardOutputContent).toHaveLength(24000);
  });

  it('targets the group by tag:aws:autoscaling:groupName', async () => {
    const out = await ssm.send(
      new SendCommandCommand({
        DocumentName: scriptDocument.name,
        Targets: [{ Key: 'tag:aws:autoscaling:groupName', Values: ['haproxy-fleet'] }],
        Parameters: { script: ['true'] },
      }),
    );
    const invocations = await finished(out.Command?.CommandId as string);
    expect(invocations.map((i) => i.Status)).toEqual(['Success', 'Success']);
  });

  it('ends a run past its execution timeout as TimedOut', async () => {
    const commandId = await send('sleep 10', ['i-0b00000000000000b']);
    const [invocation] = await waitFor(
      'timeout',
      async () => {
        const out = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }));
        return out.CommandInvocations?.[0]?.Status === 'TimedOut' && out.CommandInvocations;
      },
      { timeoutMs: 8000 },
    );
    expect(invocation?.StatusDetails).toBe('ExecutionTimedOut');
  });

  it('ends a YAML document step at the execution timeout, not at the step timeout', async () => {
    const out = await ssm.send(
      new SendCommandCommand({ DocumentName: 'Test-Sleep', InstanceIds: ['i-0a00000000000000a'] }),
    );
    const [invocation] = await waitFor(
      'timeout',
      async () => {
        const list = await ssm.send(
          new ListCommandInvocationsCommand({ CommandId: out.Command?.CommandId }),
        );
        return list.CommandInvocations?.[0]?.Status === 'TimedOut' && list.CommandInvocations;
      },
      { timeoutMs: 8000 },
    );
    expect(invocation?.StatusDetails).toBe('ExecutionTimedOut');
  });

  it('refuses bad input with the SSM error codes and runs nothing', async () => {
    await expect(
      ssm.send(
        new SendCommandCommand({ DocumentName: 'Nope', InstanceIds: ['i-0a00000000000000a'] }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidDocument' });
    await expect(
      ssm.send(
        new SendCommandCommand({
          DocumentName: scriptDocument.name,
          InstanceIds: ['i-0a00000000000000a'],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameters' });
    await expect(send('true', ['i-0fffffffffffffff0'])).rejects.toMatchObject({
      name: 'InvalidInstanceId',
    });
    await expect(
      ssm.send(
        new GetCommandInvocationCommand({
          CommandId: '00000000-0000-0000-0000-000000000000',
          InstanceId: 'i-0a00000000000000a',
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvocationDoesNotExist' });
  });

  it('throttles SSM and Auto Scaling on demand and counts calls', async () => {
    // Prepare
    standin.ssmFaults.resetCounts();
    standin.ssmFaults.set({ kind: 'throttle', calls: 1 });
    standin.autoScalingFaults.set({ kind: 'internal', calls: 1 });

    // Act + Assess
    await expect(send('true')).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(autoscaling.send(new DescribeAutoScalingGroupsCommand({}))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 500 },
    });
    await finished(await send('true'));
    expect(standin.ssmFaults.calls().SendCommand).toBe(2);
    expect(
      (await autoscaling.send(new DescribeAutoScalingGroupsCommand({}))).AutoScalingGroups,
    ).toHaveLength(1);
  });
});
