import { randomUUID } from 'node:crypto';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { CommandDocument, FleetInstanceView, FleetView } from './fleet-view';

/**
 * The SSM Run Command model of the stand-in: a command has one invocation per target instance;
 * each invocation goes Pending -> InProgress -> Success | Failed | TimedOut (StatusDetails
 * ExecutionTimedOut), or, on an instance whose agent never picks the command up, Pending ->
 * TimedOut (StatusDetails DeliveryTimedOut) once TimeoutSeconds pass; it runs the real
 * document's steps on its instance, and keeps the output as SSM does: GetCommandInvocation
 * shows the first 24,000 characters of stdout and 8,000 of stderr, the CommandPlugins Output of
 * ListCommandInvocations the first 2,500 characters.
 */
export const STDOUT_MAX = 24_000;
export const STDERR_MAX = 8_000;
export const PLUGIN_OUTPUT_MAX = 2_500;
const ERROR_SEPARATOR = '\n----------ERROR-------\n';

export type InvocationStatus =
  | 'Pending'
  | 'InProgress'
  | 'Success'
  | 'Failed'
  | 'TimedOut'
  | 'Cancelled';

export class SsmApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly httpStatus = 400,
  ) {
    super(message);
  }
}

export interface Invocation {
  commandId: string;
  instanceId: string;
  status: InvocationStatus;
  statusDetails: string;
  responseCode: number;
  stdout: string;
  stderr: string;
  agentOutput?: string;
  startedAt?: Date;
  endedAt?: Date;
}

export interface Command {
  commandId: string;
  documentName: string;
  comment?: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  targets?: { Key: string; Values: string[] }[];
  requestedAt: Date;
  timeoutSeconds: number;
  executionTimeoutSeconds: number;
  invocations: Map<string, Invocation>;
  pluginName: string;
}

export interface SendCommandInput {
  documentName: string;
  instanceIds?: string[];
  targets?: { Key: string; Values: string[] }[];
  parameters?: Record<string, string[]>;
  comment?: string;
  timeoutSeconds?: number;
}

export class SsmCommandStore {
  readonly commands = new Map<string, Command>();
  private readonly running = new Set<Promise<void>>();
  private readonly aborts = new Set<AbortController>();
  private readonly deliveryTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly fleet: FleetView,
    private readonly documents: ReadonlyMap<string, CommandDocument>,
    private readonly options: {
      executionTimeoutSeconds?: number;
      /** Overrides every command's TimeoutSeconds as the delivery timeout (tests). */
      deliveryTimeoutSeconds?: number;
    } = {},
  ) {}

  send(input: SendCommandInput): Command {
    const document = this.documents.get(input.documentName);
    if (!document)
      throw new SsmApiError('InvalidDocument', `Document ${input.documentName} does not exist.`);
    const parameters = input.parameters ?? {};
    try {
      document.validateParameters(parameters);
    } catch (error) {
      throw new SsmApiError('InvalidParameters', errorMessage(error));
    }
    const instances = this.resolveTargets(input);
    const requestedAt = new Date();
    const commandId = randomUUID();
    const command: Command = {
      commandId,
      documentName: document.name,
      comment: input.comment,
      parameters,
      instanceIds: instances.map((i) => i.instanceId),
      targets: input.targets,
      requestedAt,
      timeoutSeconds: input.timeoutSeconds ?? 3600,
      executionTimeoutSeconds: this.options.executionTimeoutSeconds ?? 3600,
      invocations: new Map(),
      pluginName: document.stepNames[0] ?? 'aws:runShellScript',
    };
    for (const instance of instances) {
      command.invocations.set(instance.instanceId, {
        commandId,
        instanceId: instance.instanceId,
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        stdout: '',
        stderr: '',
      });
    }
    this.commands.set(commandId, command);
    for (const instance of instances) {
      if (instance.commandsNeverStart) this.expireUndelivered(command, instance.instanceId);
      else this.track(this.execute(command, document, instance));
    }
    return command;
  }

  /**
   * The agent never picks the command up: the invocation stays Pending until the delivery
   * timeout (TimeoutSeconds: "if the command hasn't started running by then, it won't run"),
   * then it is TimedOut with StatusDetails DeliveryTimedOut, no output, ResponseCode -1.
   */
  private expireUndelivered(command: Command, instanceId: string): void {
    const seconds = this.options.deliveryTimeoutSeconds ?? command.timeoutSeconds;
    const timer = setTimeout(() => {
      this.deliveryTimers.delete(timer);
      const invocation = command.invocations.get(instanceId);
      if (invocation?.status !== 'Pending') return;
      invocation.status = 'TimedOut';
      invocation.statusDetails = 'DeliveryTimedOut';
      invocation.endedAt = new Date();
    }, seconds * 1000);
    this.deliveryTimers.add(timer);
  }

  private resolveTargets(input: SendCommandInput): FleetInstanceView[] {
    const all = this.fleet.instances();
    let ids: string[];
    if (input.instanceIds && input.instanceIds.length > 0) {
      if (input.targets && input.targets.length > 0) {
        throw new SsmApiError('InvalidParameters', 'specify InstanceIds or Targets, not both');
      }
      if (input.instanceIds.length > 50) {
        throw new SsmApiError('InvalidParameters', 'InstanceIds: at most 50 per command');
      }
      ids = input.instanceIds;
    } else if (input.targets && input.targets.length > 0) {
      ids = all
        .filter((i) => input.targets?.every((t) => this.matchesTarget(i, t)))
        .map((i) => i.instanceId);
    } else {
      throw new SsmApiError('InvalidParameters', 'InstanceIds or Targets is required');
    }
    const bad = ids.filter((id) => !all.some((i) => i.instanceId === id && i.ssmOnline));
    if (bad.length > 0) {
      throw new SsmApiError(
        'InvalidInstanceId',
        `Instances [[${bad.join(', ')}]] not in a valid state for account 123456789012`,
      );
    }
    return ids.map((id) => all.find((i) => i.instanceId === id) as FleetInstanceView);
  }

  private matchesTarget(
    instance: FleetInstanceView,
    target: { Key: string; Values: string[] },
  ): boolean {
    if (target.Key === 'InstanceIds') return target.Values.includes(instance.instanceId);
    if (target.Key === 'tag:aws:autoscaling:groupName')
      return target.Values.includes(this.fleet.groupName);
    throw new SsmApiError('InvalidParameters', `unsupported target key ${target.Key}`);
  }

  private async execute(
    command: Command,
    document: CommandDocument,
    instance: FleetInstanceView,
  ): Promise<void> {
    const invocation = command.invocations.get(instance.instanceId) as Invocation;
    invocation.status = 'InProgress';
    invocation.statusDetails = 'InProgress';
    invocation.startedAt = new Date();
    const abort = new AbortController();
    this.aborts.add(abort);
    const timer = setTimeout(() => abort.abort(), command.executionTimeoutSeconds * 1000);
    try {
      const run = await document.run(instance, command.parameters, abort.signal);
      invocation.stdout = run.stdout;
      invocation.stderr = run.stderr;
      invocation.agentOutput = run.pluginOutput;
      invocation.responseCode = run.exitCode;
      if (run.timedOut || abort.signal.aborted) {
        invocation.status = 'TimedOut';
        invocation.statusDetails = 'ExecutionTimedOut';
      } else {
        invocation.status = run.exitCode === 0 ? 'Success' : 'Failed';
        invocation.statusDetails = invocation.status;
      }
    } catch (error) {
      invocation.stderr = `failed to run the document: ${errorMessage(error)}`;
      invocation.responseCode = 1;
      invocation.status = 'Failed';
      invocation.statusDetails = 'Failed';
    } finally {
      clearTimeout(timer);
      this.aborts.delete(abort);
      invocation.endedAt = new Date();
    }
  }

  private track(promise: Promise<void>): void {
    this.running.add(promise);
    // Whoever awaits `running` sees a rejection; this bookkeeping branch must not report it again.
    void promise.finally(() => this.running.delete(promise)).catch(() => undefined);
  }

  get(commandId: string): Command | undefined {
    return this.commands.get(commandId);
  }

  /** Overall command status, as ListCommands reports it. */
  static commandStatus(command: Command): InvocationStatus {
    const states = [...command.invocations.values()].map((i) => i.status);
    if (states.some((s) => s === 'Pending' || s === 'InProgress')) {
      return states.some((s) => s !== 'Pending') ? 'InProgress' : 'Pending';
    }
    if (states.some((s) => s === 'TimedOut')) return 'TimedOut';
    if (states.some((s) => s === 'Failed')) return 'Failed';
    return 'Success';
  }

  /** Wait for every running invocation (tests, teardown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Abort every running invocation (teardown). */
  async abortAll(): Promise<void> {
    for (const timer of this.deliveryTimers) clearTimeout(timer);
    this.deliveryTimers.clear();
    for (const a of this.aborts) a.abort();
    await this.idle();
  }
}

export const truncate = (text: string, max: number) =>
  text.length > max ? text.slice(0, max) : text;

export function pluginOutput(invocation: Invocation): string {
  if (invocation.agentOutput !== undefined)
    return truncate(invocation.agentOutput, PLUGIN_OUTPUT_MAX);
  const combined = invocation.stderr
    ? `${invocation.stdout}${ERROR_SEPARATOR}${invocation.stderr}`
    : invocation.stdout;
  return truncate(combined, PLUGIN_OUTPUT_MAX);
}
