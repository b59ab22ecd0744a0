import type { FaultKind } from './faults';
import {
  type Command,
  type Invocation,
  pluginOutput,
  SsmApiError,
  SsmCommandStore,
  STDERR_MAX,
  STDOUT_MAX,
  truncate,
} from './ssm-commands';

/**
 * The SSM JSON 1.1 protocol (X-Amz-Target: AmazonSSM.<Operation>) for SendCommand,
 * ListCommands, ListCommandInvocations and GetCommandInvocation. Timestamps are epoch seconds
 * (JSON numbers) except GetCommandInvocation's Execution*DateTime, which are ISO strings, as
 * the API defines them. Errors: HTTP 400/500 with {"__type": Code, "message": …}.
 */
export const SSM_TARGET_PREFIX = 'AmazonSSM.';

type Json = Record<string, unknown>;

const epoch = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);

export function ssmFaultError(kind: FaultKind): SsmApiError {
  return kind === 'throttle'
    ? new SsmApiError('ThrottlingException', 'Rate exceeded', 400)
    : new SsmApiError('InternalServerError', 'An internal error occurred.', 500);
}

export function handleSsm(store: SsmCommandStore, operation: string, input: Json): Json {
  switch (operation) {
    case 'SendCommand':
      return sendCommand(store, input);
    case 'ListCommands':
      return listCommands(store, input);
    case 'ListCommandInvocations':
      return listCommandInvocations(store, input);
    case 'GetCommandInvocation':
      return getCommandInvocation(store, input);
    default:
      throw new SsmApiError(
        'UnknownOperationException',
        `operation ${operation} is not supported by the stand-in`,
      );
  }
}

function str(input: Json, key: string): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string')
    throw new SsmApiError('ValidationException', `${key} must be a string`);
  return v;
}

function sendCommand(store: SsmCommandStore, input: Json): Json {
  const documentName = str(input, 'DocumentName');
  if (!documentName) throw new SsmApiError('ValidationException', 'DocumentName is required');
  const command = store.send({
    documentName,
    instanceIds: input.InstanceIds as string[] | undefined,
    targets: input.Targets as { Key: string; Values: string[] }[] | undefined,
    parameters: input.Parameters as Record<string, string[]> | undefined,
    comment: str(input, 'Comment'),
    timeoutSeconds: input.TimeoutSeconds as number | undefined,
  });
  return { Command: commandJson(command) };
}

function commandJson(command: Command): Json {
  const invocations = [...command.invocations.values()];
  const done = invocations.filter((i) => !['Pending', 'InProgress'].includes(i.status));
  const status = SsmCommandStore.commandStatus(command);
  return {
    CommandId: command.commandId,
    DocumentName: command.documentName,
    DocumentVersion: '$DEFAULT',
    Comment: command.comment ?? '',
    ExpiresAfter: epoch(new Date(command.requestedAt.getTime() + command.timeoutSeconds * 1000)),
    Parameters: command.parameters,
    InstanceIds: command.targets ? [] : command.instanceIds,
    Targets: command.targets ?? [],
    RequestedDateTime: epoch(command.requestedAt),
    Status: status,
    StatusDetails: status,
    OutputS3Region: 'us-east-1',
    OutputS3BucketName: '',
    OutputS3KeyPrefix: '',
    MaxConcurrency: '50',
    MaxErrors: '0',
    TargetCount: invocations.length,
    CompletedCount: done.length,
    // ErrorCount: Failed or Execution Timed Out; delivery timeouts are counted apart.
    ErrorCount: done.filter((i) => i.status !== 'Success' && i.statusDetails !== 'DeliveryTimedOut')
      .length,
    DeliveryTimedOutCount: done.filter((i) => i.statusDetails === 'DeliveryTimedOut').length,
    ServiceRole: '',
    NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    TimeoutSeconds: command.timeoutSeconds,
  };
}

function page<T>(items: T[], input: Json, max: number): { items: T[]; next?: string } {
  const size = (input.MaxResults as number | undefined) ?? max;
  if (!Number.isInteger(size) || size < 1 || size > max) {
    throw new SsmApiError('ValidationException', `MaxResults must be between 1 and ${max}`);
  }
  const token = str(input, 'NextToken');
  const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) : 0;
  if (!Number.isInteger(start) || start < 0)
    throw new SsmApiError('InvalidNextToken', 'The specified token is not valid.');
  const slice = items.slice(start, start + size);
  return start + size < items.length
    ? { items: slice, next: Buffer.from(String(start + size)).toString('base64url') }
    : { items: slice };
}

function listCommands(store: SsmCommandStore, input: Json): Json {
  const id = str(input, 'CommandId');
  let commands = [...store.commands.values()].reverse();
  if (id) {
    commands = commands.filter((c) => c.commandId === id);
    if (commands.length === 0)
      throw new SsmApiError('InvalidCommandId', `Command ${id} does not exist.`);
  }
  const { items, next } = page(commands, input, 50);
  return { Commands: items.map(commandJson), ...(next ? { NextToken: next } : {}) };
}

function listCommandInvocations(store: SsmCommandStore, input: Json): Json {
  const id = str(input, 'CommandId');
  const instanceId = str(input, 'InstanceId');
  const details = input.Details === true;
  let commands = [...store.commands.values()].reverse();
  if (id) {
    commands = commands.filter((c) => c.commandId === id);
    if (commands.length === 0)
      throw new SsmApiError('InvalidCommandId', `Command ${id} does not exist.`);
  }
  const rows = commands.flatMap((c) =>
    [...c.invocations.values()]
      .filter((i) => !instanceId || i.instanceId === instanceId)
      .map((i) => ({ command: c, invocation: i })),
  );
  const { items, next } = page(rows, input, 50);
  return {
    CommandInvocations: items.map(({ command, invocation }) =>
      invocationJson(command, invocation, details),
    ),
    ...(next ? { NextToken: next } : {}),
  };
}

function invocationJson(command: Command, invocation: Invocation, details: boolean): Json {
  const out: Json = {
    CommandId: command.commandId,
    InstanceId: invocation.instanceId,
    InstanceName: '',
    Comment: command.comment ?? '',
    DocumentName: command.documentName,
    DocumentVersion: '$DEFAULT',
    RequestedDateTime: epoch(command.requestedAt),
    Status: invocation.status,
    StatusDetails: invocation.statusDetails,
    StandardOutputUrl: '',
    StandardErrorUrl: '',
    CommandPlugins: [],
    ServiceRole: '',
    NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
  };
  if (details) {
    out.CommandPlugins = [
      {
        Name: command.pluginName,
        Status: invocation.status,
        StatusDetails: invocation.statusDetails,
        ResponseCode: invocation.responseCode,
        ResponseStartDateTime: epoch(invocation.startedAt),
        ResponseFinishDateTime: epoch(invocation.endedAt),
        Output: pluginOutput(invocation),
        StandardOutputUrl: '',
        StandardErrorUrl: '',
        OutputS3Region: 'us-east-1',
        OutputS3BucketName: '',
        OutputS3KeyPrefix: '',
      },
    ];
  }
  return out;
}

function getCommandInvocation(store: SsmCommandStore, input: Json): Json {
  const id = str(input, 'CommandId');
  const instanceId = str(input, 'InstanceId');
  if (!id || !instanceId)
    throw new SsmApiError('ValidationException', 'CommandId and InstanceId are required');
  const command = store.get(id);
  const invocation = command?.invocations.get(instanceId);
  if (!command || !invocation) throw new SsmApiError('InvocationDoesNotExist', '');
  const plugin = str(input, 'PluginName');
  if (plugin !== undefined && plugin !== command.pluginName) {
    throw new SsmApiError(
      'InvalidPluginName',
      `plugin ${plugin} is not a step of ${command.documentName}`,
    );
  }
  const finished = invocation.endedAt !== undefined;
  const elapsedMs = invocation.startedAt
    ? (invocation.endedAt ?? new Date()).getTime() - invocation.startedAt.getTime()
    : 0;
  return {
    CommandId: command.commandId,
    InstanceId: invocation.instanceId,
    Comment: command.comment ?? '',
    DocumentName: command.documentName,
    DocumentVersion: '$DEFAULT',
    PluginName: command.pluginName,
    ResponseCode: invocation.responseCode,
    ExecutionStartDateTime: invocation.startedAt?.toISOString() ?? '',
    ExecutionElapsedTime:
      finished || invocation.startedAt ? `PT${(elapsedMs / 1000).toFixed(3)}S` : '',
    ExecutionEndDateTime: invocation.endedAt?.toISOString() ?? '',
    Status: invocation.status,
    StatusDetails: invocation.statusDetails,
    // Empty until the invocation has ended, as the API documents.
    StandardOutputContent: finished ? truncate(invocation.stdout, STDOUT_MAX) : '',
    StandardOutputUrl: '',
    StandardErrorContent: finished ? truncate(invocation.stderr, STDERR_MAX) : '',
    StandardErrorUrl: '',
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
  };
}
