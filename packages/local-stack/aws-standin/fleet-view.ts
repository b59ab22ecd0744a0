/**
 * What the SSM and Auto Scaling stand-ins see of the simulated fleet (packages/local-stack/fleet.ts):
 * the group's instances, their lifecycle and health, and the environment a command run on
 * each instance gets (its agent config, a PATH with the `aurora-haproxy-agent` wrapper).
 */
export interface FleetInstanceView {
  instanceId: string;
  az: string;
  /** Auto Scaling lifecycle state: Pending, Pending:Wait, InService, Terminating, … */
  lifecycleState: string;
  healthStatus: 'Healthy' | 'Unhealthy';
  /** SSM Agent online: commands to an instance that is not are refused (InvalidInstanceId). */
  ssmOnline: boolean;
  /**
   * SSM Agent registered (SendCommand accepts the instance) but it never picks commands up
   * (agent hung, instance partitioned): each invocation stays Pending until the command's
   * delivery timeout (SendCommand TimeoutSeconds), then ends TimedOut / DeliveryTimedOut.
   */
  commandsNeverStart?: boolean;
  /** Environment for a command run on this instance. */
  commandEnv: Record<string, string>;
  /** Working directory for commands (the instance's own dir). */
  workDir: string;
}

export interface FleetView {
  groupName: string;
  minSize: number;
  maxSize: number;
  instances(): readonly FleetInstanceView[];
}

/** One command document the SSM stand-in can run (e.g. infra/ssm/apply-bundle.yml). */
export interface CommandDocument {
  name: string;
  /** Step (plugin) names in order, as GetCommandInvocation's PluginName knows them. */
  stepNames: readonly string[];
  /** Throws with a message naming the bad parameter (SSM answers InvalidParameters). */
  validateParameters(parameters: Record<string, string[]>): void;
  /** Run every step on one instance; resolves when it ends (never rejects for a failed step). */
  run(
    instance: FleetInstanceView,
    parameters: Record<string, string[]>,
    signal: AbortSignal,
  ): Promise<CommandRun>;
}

export interface CommandRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The document's own execution timeout ended the run. */
  timedOut?: boolean;
  /** The plugin output as the SSM Agent composes it (default: stdout + stderr, truncated). */
  pluginOutput?: string;
  /** Step (plugin) name that ran, when the document has several. */
  stepName?: string;
}
