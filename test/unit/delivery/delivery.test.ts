import {
  agentLine,
  asgInstance,
  autoScalingGroup,
  invocation,
  MemoryDeliveryRecords,
  sentCommand,
} from '@aurora-haproxy/test-support/aws-fixtures';
import { awsError } from '@aurora-haproxy/test-support/rds-fixtures';
import { RecordingMetrics } from '@aurora-haproxy/test-support/recording';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { ListCommandInvocationsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DELIVERY_METRICS,
  type DeliveryDeps,
  deliverDesired,
  redeliverWhereNeeded,
} from '../../../functions/delivery/deliver';
import { FleetLookupError } from '../../../functions/delivery/errors';
import { listFleetInstances } from '../../../functions/delivery/fleet';
import { listInvocations, parseAgentOutput } from '../../../functions/delivery/invocations';
import { DEFAULT_SEND_OPTIONS, sendApplyCommands } from '../../../functions/delivery/send';
import { silentLog } from '../../../functions/shared/observability';

const ssmMock = mockClient(SSMClient);
const asgMock = mockClient(AutoScalingClient);
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const GROUP = 'aurora-haproxy-fleet';

function ids(n: number) {
  return Array.from({ length: n }, (_, i) => `i-0${String(i).padStart(16, '0')}`);
}

function fleet(instanceIds: string[]) {
  asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      autoScalingGroup(
        GROUP,
        instanceIds.map((id) => asgInstance(id)),
      ),
    ],
  });
}

let commandSeq = 0;
function acceptCommands() {
  ssmMock.on(SendCommandCommand).callsFake((input) => ({
    Command: sentCommand(
      `0b1f6b5e-0000-4000-8000-${String(++commandSeq).padStart(12, '0')}`,
      input,
    ),
  }));
}

function deps() {
  const records = new MemoryDeliveryRecords();
  const metrics = new RecordingMetrics();
  const d: DeliveryDeps = {
    ssm: new SSMClient({ region: 'eu-west-1' }),
    autoScaling: new AutoScalingClient({ region: 'eu-west-1' }),
    records,
    fleetGroupName: GROUP,
    send: { documentName: 'aurora-haproxy-apply-bundle', ...DEFAULT_SEND_OPTIONS },
    log: silentLog,
    metrics,
    now: () => new Date('2026-11-26T09:00:00Z'),
  };
  return { deps: d, records, metrics };
}

beforeEach(() => {
  ssmMock.reset();
  asgMock.reset();
});

describe('listFleetInstances', () => {
  it('keeps InService + Healthy instances only, across pages', async () => {
    // Prepare
    asgMock
      .on(DescribeAutoScalingGroupsCommand, { NextToken: undefined })
      .resolves({
        AutoScalingGroups: [
          autoScalingGroup(GROUP, [
            asgInstance('i-0aaa', 'InService'),
            asgInstance('i-0bbb', 'Pending'),
            asgInstance('i-0ccc', 'InService', 'Unhealthy'),
            asgInstance('i-0ddd', 'Terminating'),
            asgInstance('i-0eee', 'InService'),
          ]),
        ],
        NextToken: 'next',
      })
      .on(DescribeAutoScalingGroupsCommand, { NextToken: 'next' })
      .resolves({ AutoScalingGroups: [] });

    // Act
    const instances = await listFleetInstances(
      new AutoScalingClient({ region: 'eu-west-1' }),
      GROUP,
    );

    // Assess
    expect(instances).toEqual(['i-0aaa', 'i-0eee']);
    expect(asgMock.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(2);
  });

  it('names a missing group and translates SDK errors', async () => {
    // Prepare
    const client = new AutoScalingClient({ region: 'eu-west-1' });
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [] })
      .rejectsOnce(awsError('Throttling', 'Rate exceeded'));

    // Act + Assess
    await expect(listFleetInstances(client, GROUP)).rejects.toThrow(`${GROUP} does not exist`);
    await expect(listFleetInstances(client, GROUP)).rejects.toBeInstanceOf(FleetLookupError);
  });
});

describe('deliverDesired', () => {
  it('sends the sha to every InService instance in commands of at most 50, and records them', async () => {
    // Prepare
    const instanceIds = ids(120);
    fleet(instanceIds);
    acceptCommands();
    const { deps: d, records, metrics } = deps();

    // Act
    const report = await deliverDesired(d, SHA_A);

    // Assess
    const calls = ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.InstanceIds?.length)).toEqual([50, 50, 20]);
    for (const input of calls) {
      expect(input).toMatchObject({
        DocumentName: 'aurora-haproxy-apply-bundle',
        Parameters: { sha256: [SHA_A] },
        MaxConcurrency: '50%',
        MaxErrors: '1',
        TimeoutSeconds: 300,
      });
    }
    expect(report.sentTo).toBe(120);
    expect(records.commands).toHaveLength(3);
    expect(Object.keys(records.state?.instances ?? {})).toHaveLength(120);
    expect(records.state?.sha256).toBe(SHA_A);
    expect(metrics.get(DELIVERY_METRICS.commands)).toBe(3);
  });

  it('records what was sent when one batch is refused, leaving those instances for the schedule', async () => {
    // Prepare
    const instanceIds = ids(60);
    fleet(instanceIds);
    ssmMock
      .on(SendCommandCommand)
      .callsFakeOnce((input) => ({ Command: sentCommand('c-1', input) }))
      .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded'));
    const { deps: d, records, metrics } = deps();

    // Act
    const report = await deliverDesired(d, SHA_A);

    // Assess
    expect(report.failedInstances).toHaveLength(10);
    expect(Object.keys(records.state?.instances ?? {})).toHaveLength(50);
    expect(metrics.get(DELIVERY_METRICS.sendFailures)).toBe(10);
  });
});

describe('sendApplyCommands', () => {
  it('sends the output to CloudWatch Logs only when a log group is configured', async () => {
    // Prepare
    acceptCommands();
    const ssm = new SSMClient({ region: 'eu-west-1' });
    const base = { documentName: 'apply-bundle', ...DEFAULT_SEND_OPTIONS };
    const now = new Date('2026-11-26T09:00:00Z');

    // Act
    await sendApplyCommands(ssm, base, SHA_A, ['i-01'], 'new-desired', now);
    await sendApplyCommands(
      ssm,
      { ...base, cloudWatchLogGroup: '/aurora-haproxy/apply' },
      SHA_A,
      ['i-01'],
      'new-desired',
      now,
    );

    // Assess
    const [plain, withLogs] = ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input);
    expect(plain?.CloudWatchOutputConfig).toBeUndefined();
    expect(withLogs?.CloudWatchOutputConfig).toEqual({
      CloudWatchOutputEnabled: true,
      CloudWatchLogGroupName: '/aurora-haproxy/apply',
    });
    expect(plain?.Comment).toBe(`aurora-haproxy new-desired ${SHA_A.slice(0, 12)}`);
  });
});

describe('parseAgentOutput', () => {
  it('reads the agent line, ignoring other output and stderr', () => {
    const out = `starting\n${agentLine(SHA_A, false, 'rollback', 'haproxy -c failed')}\n\n----------ERROR-------\n{"ok":true}`;
    expect(parseAgentOutput(out)).toEqual({
      result: {
        ok: false,
        sha256: SHA_A,
        action: 'rollback',
        durationMs: 412,
        error: 'haproxy -c failed',
      },
    });
  });

  it.each([
    ['', 'no output'],
    ['Traceback: boom', 'no agent result line in the output'],
    ['{"ok": true, "sha256": "x"}', 'no agent result line in the output'],
    ['{not json', 'no agent result line in the output'],
  ])('reports a problem for %j', (output, problem) => {
    expect(parseAgentOutput(output)).toEqual({ problem });
  });
});

describe('listInvocations', () => {
  it('pages through the invocations with Details and parses each output', async () => {
    // Prepare
    ssmMock
      .on(ListCommandInvocationsCommand, { NextToken: undefined })
      .resolves({
        CommandInvocations: [invocation('c-1', 'i-01', 'Success', agentLine(SHA_A))],
        NextToken: 't2',
      })
      .on(ListCommandInvocationsCommand, { NextToken: 't2' })
      .resolves({ CommandInvocations: [invocation('c-1', 'i-02', 'TimedOut', '', -1)] });

    // Act
    const result = await listInvocations(new SSMClient({ region: 'eu-west-1' }), 'c-1');

    // Assess
    expect(ssmMock.commandCalls(ListCommandInvocationsCommand)[0]?.args[0].input).toMatchObject({
      CommandId: 'c-1',
      Details: true,
    });
    expect(result).toEqual([
      {
        instanceId: 'i-01',
        commandId: 'c-1',
        status: 'Success',
        result: { ok: true, sha256: SHA_A, action: 'runtime', durationMs: 412 },
      },
      { instanceId: 'i-02', commandId: 'c-1', status: 'TimedOut', outputProblem: 'no output' },
    ]);
  });
});

describe('redeliverWhereNeeded', () => {
  it('re-sends to failed, timed-out, new and drifted instances only', async () => {
    // Prepare
    fleet(['i-ok', 'i-failed', 'i-timedout', 'i-drift', 'i-running', 'i-new']);
    const { deps: d, records } = deps();
    records.state = {
      sha256: SHA_A,
      updatedAt: '2026-11-26T08:00:00Z',
      instances: {
        'i-ok': 'c-1',
        'i-failed': 'c-1',
        'i-timedout': 'c-1',
        'i-drift': 'c-2',
        'i-running': 'c-2',
        'i-gone': 'c-2',
      },
    };
    ssmMock
      .on(ListCommandInvocationsCommand, { CommandId: 'c-1' })
      .resolves({
        CommandInvocations: [
          invocation('c-1', 'i-ok', 'Success', agentLine(SHA_A)),
          invocation(
            'c-1',
            'i-failed',
            'Failed',
            `${agentLine(SHA_A, false, 'rollback', 'reload failed')}\n----------ERROR-------\nexit 1`,
          ),
          invocation('c-1', 'i-timedout', 'TimedOut', '', -1),
        ],
      })
      .on(ListCommandInvocationsCommand, { CommandId: 'c-2' })
      .resolves({
        CommandInvocations: [
          invocation('c-2', 'i-drift', 'Success', agentLine(SHA_B, true, 'unchanged')),
          invocation('c-2', 'i-running', 'InProgress', ''),
          invocation('c-2', 'i-gone', 'Failed', ''),
        ],
      });
    acceptCommands();

    // Act
    const report = await redeliverWhereNeeded(d, SHA_A);

    // Assess
    expect(report.redelivered).toEqual([
      { instanceId: 'i-drift', reason: 'drift' },
      { instanceId: 'i-failed', reason: 'failed' },
      { instanceId: 'i-new', reason: 'new-instance' },
      { instanceId: 'i-timedout', reason: 'timed-out' },
    ]);
    const sent = ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds);
    expect(sent).toEqual([['i-drift', 'i-failed', 'i-new', 'i-timedout']]);
    const newCommand = report.commands[0]?.commandId;
    expect(records.state?.instances).toEqual({
      'i-ok': 'c-1',
      'i-running': 'c-2',
      'i-drift': newCommand,
      'i-failed': newCommand,
      'i-new': newCommand,
      'i-timedout': newCommand,
    });
  });

  it('sends nothing when every instance applied the desired sha', async () => {
    // Prepare
    fleet(['i-01', 'i-02']);
    const { deps: d, records } = deps();
    records.state = {
      sha256: SHA_A,
      updatedAt: '2026-11-26T08:00:00Z',
      instances: { 'i-01': 'c-1', 'i-02': 'c-1' },
    };
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation('c-1', 'i-01', 'Success', agentLine(SHA_A)),
        invocation('c-1', 'i-02', 'Success', agentLine(SHA_A, true, 'unchanged')),
      ],
    });

    // Act
    const report = await redeliverWhereNeeded(d, SHA_A);

    // Assess
    expect(report.commands).toEqual([]);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('sends to the whole fleet when the desired sha was never delivered', async () => {
    // Prepare
    fleet(['i-01', 'i-02']);
    const { deps: d, records } = deps();
    records.state = {
      sha256: SHA_B,
      updatedAt: '2026-11-26T08:00:00Z',
      instances: { 'i-01': 'c-1', 'i-02': 'c-1' },
    };
    acceptCommands();

    // Act
    const report = await redeliverWhereNeeded(d, SHA_A);

    // Assess
    expect(report.redelivered.map((r) => r.reason)).toEqual(['undelivered', 'undelivered']);
    expect(ssmMock.commandCalls(ListCommandInvocationsCommand)).toHaveLength(0);
    expect(records.state?.sha256).toBe(SHA_A);
    expect(Object.keys(records.state?.instances ?? {})).toEqual(['i-01', 'i-02']);
  });

  it('does not re-send when the invocation lookup fails (unknown is not failed)', async () => {
    // Prepare
    fleet(['i-01']);
    const { deps: d, records } = deps();
    records.state = {
      sha256: SHA_A,
      updatedAt: '2026-11-26T08:00:00Z',
      instances: { 'i-01': 'c-1' },
    };
    ssmMock.on(ListCommandInvocationsCommand).rejects(awsError('InternalServerError', 'boom', 500));

    // Act
    const report = await redeliverWhereNeeded(d, SHA_A);

    // Assess
    expect(report.commands).toEqual([]);
  });
});
