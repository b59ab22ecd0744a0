import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * Runs an SSM command document (schemaVersion 2.2, aws:runShellScript steps) on this machine,
 * the way the SSM Agent would on a host. Used by the local stack's SSM stand-in and by tests,
 * so the REAL document in infra/ssm/ is what runs, not a copy of its command line.
 *
 * What is emulated (and from where):
 * - Parameters: unknown names and missing values without a default are rejected, every value
 *   is checked against its `allowedPattern` before anything runs, as SendCommand does
 *   (InvalidParameters); the pattern is anchored to the whole value here, so the emulation is
 *   never laxer than SSM. `{{ name }}` is then substituted into runCommand.
 * - Each aws:runShellScript step: runCommand lines joined with newlines into one script file,
 *   run by bash (the agent uses sh; the project's document is POSIX, so both agree) with the
 *   given env and cwd (`workingDirectory` input if set), killed after `timeoutSeconds`
 *   (default 3600, as the agent) -> status TimedOut.
 * - Response code: the script's exit code; a step fails on a non-zero code. Steps run in
 *   order; a failed step stops the document only when it says `onFailure: exit` (the
 *   default for 2.2 documents is to go on with the next step); `precondition` on
 *   platformType is evaluated as Linux.
 * - Output sizes as the SSM API returns them: `standardOutputContent` = first 24,000
 *   characters of stdout and `standardErrorContent` = first 8,000 of stderr
 *   (GetCommandInvocation); `output` = stdout and stderr combined the way the SSM Agent does
 *   for the plugin output shown in the console and ListCommandInvocations (stderr after a
 *   "----------ERROR-------" title, the whole held to 2,400 characters with
 *   "---Output truncated---" / "---Error truncated----" markers; the API field allows 2,500).
 */

export const SUPPORTED_SCHEMA_VERSION = '2.2';
export const STDOUT_CONTENT_MAX = 24_000;
export const STDERR_CONTENT_MAX = 8_000;
export const PLUGIN_OUTPUT_MAX = 2_400;
export const DEFAULT_STEP_TIMEOUT_SECONDS = 3_600;

const OUTPUT_TRUNCATED = '\n---Output truncated---';
const ERROR_TRUNCATED = '\n---Error truncated----';
const ERROR_TITLE = '\n----------ERROR-------\n';
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.:-]+)\s*\}\}/g;

export class SsmDocumentError extends Error {
  override readonly name = 'SsmDocumentError';
}

/** Like SSM's InvalidParameters: the command is refused and nothing runs. */
export class SsmParameterError extends Error {
  override readonly name = 'SsmParameterError';
}

export interface DocumentParameter {
  type: 'String';
  description?: string;
  default?: string;
  allowedPattern?: string;
  allowedValues?: string[];
}

export interface RunShellScriptStep {
  action: 'aws:runShellScript';
  name: string;
  onFailure?: 'exit' | 'successAndExit';
  precondition?: { StringEquals: [string, string] };
  inputs: { runCommand: string[]; workingDirectory?: string; timeoutSeconds?: number };
}

export interface CommandDocument {
  schemaVersion: string;
  description?: string;
  parameters: Record<string, DocumentParameter>;
  mainSteps: RunShellScriptStep[];
}

export type StepStatus = 'Success' | 'Failed' | 'TimedOut' | 'Cancelled' | 'Skipped';

export interface StepResult {
  name: string;
  status: StepStatus;
  /** Exit code of the step's script; -1 when it did not run or was killed. */
  responseCode: number;
  /** Full captured streams (not truncated), for tests that want to look at everything. */
  stdout: string;
  stderr: string;
  /** What GetCommandInvocation returns. */
  standardOutputContent: string;
  standardErrorContent: string;
  /** What the console / ListCommandInvocations show for the step (agent-truncated). */
  output: string;
  durationMs: number;
}

export interface DocumentRunResult {
  /** Success when every step that ran succeeded (skipped steps do not count). */
  status: 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';
  /** Response code of the last step that ran (what a single-step document reports). */
  responseCode: number;
  steps: StepResult[];
}

/**
 * Parameter values as SendCommand takes them (a list per name; a String parameter takes
 * exactly one) or, for convenience, one string per name.
 */
export type SendCommandParameters = Record<string, string | readonly string[] | undefined>;

export interface RunDocumentOptions {
  parameters: SendCommandParameters;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Overrides every step's timeoutSeconds (tests). */
  timeoutMs?: number;
  /** Aborting ends the running step's process group (CancelCommand, stack teardown). */
  signal?: AbortSignal;
  /**
   * What runs a step's script file (its path is appended): `['bash']` by default. The boot
   * harness runs it inside a booted host instead (packages/local-stack/boot/run-in-host.sh).
   */
  interpreter?: readonly string[];
}

export async function loadCommandDocument(path: string): Promise<CommandDocument> {
  return parseCommandDocument(await readFile(path, 'utf8'));
}

/** Parse and check a command document (YAML or JSON text). Throws SsmDocumentError. */
export function parseCommandDocument(text: string): CommandDocument {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    throw new SsmDocumentError('document is not valid YAML/JSON', { cause });
  }
  if (!isRecord(raw)) throw new SsmDocumentError('document must be a mapping');
  if (raw.schemaVersion !== SUPPORTED_SCHEMA_VERSION) {
    throw new SsmDocumentError(
      `schemaVersion must be '${SUPPORTED_SCHEMA_VERSION}', got ${JSON.stringify(raw.schemaVersion)}`,
    );
  }
  const parameters = parseParameters(raw.parameters ?? {});
  if (!Array.isArray(raw.mainSteps) || raw.mainSteps.length === 0) {
    throw new SsmDocumentError('mainSteps must be a non-empty list');
  }
  const mainSteps = raw.mainSteps.map((step, i) => parseStep(step, i));
  const names = new Set<string>();
  for (const step of mainSteps) {
    if (names.has(step.name)) throw new SsmDocumentError(`step name ${step.name} is repeated`);
    names.add(step.name);
    for (const line of step.inputs.runCommand) {
      for (const [, ref] of line.matchAll(PLACEHOLDER)) {
        if (ref !== undefined && !(ref in parameters)) {
          throw new SsmDocumentError(`step ${step.name} refers to undeclared parameter ${ref}`);
        }
      }
    }
  }
  return {
    schemaVersion: SUPPORTED_SCHEMA_VERSION,
    description: typeof raw.description === 'string' ? raw.description : undefined,
    parameters,
    mainSteps,
  };
}

/**
 * Apply defaults and validate every value against the document's declaration, as
 * SendCommand does before anything is delivered. Throws SsmParameterError.
 */
export function resolveParameters(
  document: CommandDocument,
  given: SendCommandParameters,
): Record<string, string> {
  for (const name of Object.keys(given)) {
    if (!(name in document.parameters)) {
      throw new SsmParameterError(`parameter ${name} is not declared by the document`);
    }
  }
  const resolved: Record<string, string> = {};
  for (const [name, declared] of Object.entries(document.parameters)) {
    const value = singleValue(name, given[name]) ?? declared.default;
    if (value === undefined) throw new SsmParameterError(`parameter ${name} is required`);
    if (typeof value !== 'string')
      throw new SsmParameterError(`parameter ${name} must be a string`);
    if (declared.allowedPattern !== undefined && !wholeMatch(declared.allowedPattern, value)) {
      throw new SsmParameterError(
        `parameter ${name} value ${JSON.stringify(value.slice(0, 100))} does not match allowedPattern ${declared.allowedPattern}`,
      );
    }
    if (declared.allowedValues !== undefined && !declared.allowedValues.includes(value)) {
      throw new SsmParameterError(
        `parameter ${name} must be one of ${declared.allowedValues.join(', ')}`,
      );
    }
    resolved[name] = value;
  }
  return resolved;
}

/** Replace every {{ name }} with the (already validated) parameter value. */
export function substituteParameters(line: string, parameters: Record<string, string>): string {
  return line.replace(PLACEHOLDER, (_, name: string) => {
    const value = parameters[name];
    if (value === undefined) throw new SsmParameterError(`parameter ${name} has no value`);
    return value;
  });
}

/** Run a document's steps locally. Rejects (nothing runs) on bad parameters. */
export async function runCommandDocument(
  document: CommandDocument,
  options: RunDocumentOptions,
): Promise<DocumentRunResult> {
  const parameters = resolveParameters(document, options.parameters);
  const steps: StepResult[] = [];
  let stopped = false;
  for (const step of document.mainSteps) {
    if (stopped || options.signal?.aborted || !preconditionHolds(step)) {
      steps.push(skipped(step.name));
      continue;
    }
    const result = await runShellScriptStep(step, parameters, options);
    steps.push(result);
    if (result.status !== 'Success' && step.onFailure === 'exit') stopped = true;
    if (result.status === 'Success' && step.onFailure === 'successAndExit') stopped = true;
  }
  const ran = steps.filter((s) => s.status !== 'Skipped');
  const last = ran[ran.length - 1];
  const status = ran.some((s) => s.status === 'Cancelled')
    ? 'Cancelled'
    : ran.some((s) => s.status === 'TimedOut')
      ? 'TimedOut'
      : ran.every((s) => s.status === 'Success')
        ? 'Success'
        : 'Failed';
  return { status, responseCode: last?.responseCode ?? -1, steps };
}

/** The SSM Agent's combined plugin output: stdout, then stderr under a title, held to capacity. */
export function pluginOutput(stdout: string, stderr: string, capacity = PLUGIN_OUTPUT_MAX): string {
  const title = stderr.length > 0 ? ERROR_TITLE : '';
  const space = capacity - title.length;
  if (stdout.length + stderr.length < space) return `${stdout}${title}${stderr}`;
  if (stdout.length > space / 2 && stderr.length > space / 2) {
    const half = Math.floor((space - OUTPUT_TRUNCATED.length - ERROR_TRUNCATED.length) / 2);
    return `${stdout.slice(0, half)}${OUTPUT_TRUNCATED}${title}${stderr.slice(0, half)}${ERROR_TRUNCATED}`;
  }
  if (stdout.length < space / 2) {
    const keep = space - ERROR_TRUNCATED.length - stdout.length;
    return `${stdout}${title}${stderr.slice(0, keep)}${ERROR_TRUNCATED}`;
  }
  const keep = space - OUTPUT_TRUNCATED.length - stderr.length;
  return `${stdout.slice(0, keep)}${OUTPUT_TRUNCATED}${title}${stderr}`;
}

async function runShellScriptStep(
  step: RunShellScriptStep,
  parameters: Record<string, string>,
  options: RunDocumentOptions,
): Promise<StepResult> {
  const script = step.inputs.runCommand.map((l) => substituteParameters(l, parameters)).join('\n');
  const dir = await mkdtemp(join(tmpdir(), 'ssm-step-'));
  const scriptPath = join(dir, '_script.sh');
  await writeFile(scriptPath, `${script}\n`, { mode: 0o700 });
  const timeoutMs =
    options.timeoutMs ?? (step.inputs.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS) * 1000;
  const started = Date.now();
  try {
    const run = await runScript(scriptPath, {
      cwd: step.inputs.workingDirectory ?? options.cwd,
      env: options.env ?? process.env,
      timeoutMs,
      signal: options.signal,
      interpreter: options.interpreter,
    });
    const status: StepStatus = run.cancelled
      ? 'Cancelled'
      : run.timedOut
        ? 'TimedOut'
        : run.code === 0
          ? 'Success'
          : 'Failed';
    return {
      name: step.name,
      status,
      responseCode: run.timedOut || run.cancelled ? -1 : run.code,
      stdout: run.stdout,
      stderr: run.stderr,
      standardOutputContent: run.stdout.slice(0, STDOUT_CONTENT_MAX),
      standardErrorContent: run.stderr.slice(0, STDERR_CONTENT_MAX),
      output: pluginOutput(run.stdout, run.stderr),
      durationMs: Date.now() - started,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  cancelled: boolean;
}

function runScript(
  scriptPath: string,
  opts: {
    cwd?: string;
    env: NodeJS.ProcessEnv;
    timeoutMs: number;
    signal?: AbortSignal;
    interpreter?: readonly string[];
  },
): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout ends the script and everything it started, by PID.
    const [command = 'bash', ...args] = opts.interpreter ?? ['bash'];
    const child = spawn(command, [...args, scriptPath], {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    let cancelled = false;
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      killGroup();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // Aborted while the step was being prepared: the listener above will never fire.
    if (opts.signal?.aborted) onAbort();
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (error) => {
      done();
      reject(new SsmDocumentError(`could not start bash: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      done();
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        cancelled,
      });
    });
  });
}

function parseParameters(raw: unknown): Record<string, DocumentParameter> {
  if (!isRecord(raw)) throw new SsmDocumentError('parameters must be a mapping');
  const out: Record<string, DocumentParameter> = {};
  for (const [name, decl] of Object.entries(raw)) {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new SsmDocumentError(`bad parameter name ${name}`);
    if (!isRecord(decl)) throw new SsmDocumentError(`parameter ${name} must be a mapping`);
    if (decl.type !== 'String') {
      throw new SsmDocumentError(`parameter ${name}: only type String is supported here`);
    }
    if (decl.allowedPattern !== undefined) {
      if (typeof decl.allowedPattern !== 'string') {
        throw new SsmDocumentError(`parameter ${name}: allowedPattern must be a string`);
      }
      try {
        new RegExp(decl.allowedPattern);
      } catch (cause) {
        throw new SsmDocumentError(`parameter ${name}: allowedPattern is not a valid regex`, {
          cause,
        });
      }
    }
    out[name] = {
      type: 'String',
      description: optionalString(decl.description, `parameter ${name} description`),
      default: optionalString(decl.default, `parameter ${name} default`),
      allowedPattern: decl.allowedPattern as string | undefined,
      allowedValues: Array.isArray(decl.allowedValues) ? decl.allowedValues.map(String) : undefined,
    };
  }
  return out;
}

function parseStep(raw: unknown, index: number): RunShellScriptStep {
  if (!isRecord(raw)) throw new SsmDocumentError(`mainSteps[${index}] must be a mapping`);
  if (raw.action !== 'aws:runShellScript') {
    throw new SsmDocumentError(
      `mainSteps[${index}]: only aws:runShellScript is supported, got ${String(raw.action)}`,
    );
  }
  if (typeof raw.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(raw.name)) {
    throw new SsmDocumentError(`mainSteps[${index}] needs a name of letters, digits, _ . -`);
  }
  if (
    raw.onFailure !== undefined &&
    raw.onFailure !== 'exit' &&
    raw.onFailure !== 'successAndExit'
  ) {
    throw new SsmDocumentError(`step ${raw.name}: onFailure must be exit or successAndExit`);
  }
  const inputs = raw.inputs;
  if (!isRecord(inputs)) throw new SsmDocumentError(`step ${raw.name} needs inputs`);
  const runCommand =
    typeof inputs.runCommand === 'string' ? [inputs.runCommand] : inputs.runCommand;
  if (!Array.isArray(runCommand) || !runCommand.every((l) => typeof l === 'string')) {
    throw new SsmDocumentError(`step ${raw.name}: inputs.runCommand must be a list of strings`);
  }
  const timeout = inputs.timeoutSeconds === undefined ? undefined : Number(inputs.timeoutSeconds);
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 1 && timeout <= 172_800)) {
    throw new SsmDocumentError(`step ${raw.name}: timeoutSeconds must be an integer 1..172800`);
  }
  return {
    action: 'aws:runShellScript',
    name: raw.name,
    onFailure: raw.onFailure as RunShellScriptStep['onFailure'],
    precondition: parsePrecondition(raw.precondition, raw.name),
    inputs: {
      runCommand: runCommand as string[],
      workingDirectory: optionalString(
        inputs.workingDirectory,
        `step ${raw.name} workingDirectory`,
      ),
      timeoutSeconds: timeout,
    },
  };
}

function parsePrecondition(raw: unknown, step: string): RunShellScriptStep['precondition'] {
  if (raw === undefined) return undefined;
  const pair = isRecord(raw) ? raw.StringEquals : undefined;
  if (!Array.isArray(pair) || pair.length !== 2 || pair[0] !== 'platformType') {
    throw new SsmDocumentError(`step ${step}: precondition must be StringEquals [platformType, X]`);
  }
  return { StringEquals: ['platformType', String(pair[1])] };
}

function preconditionHolds(step: RunShellScriptStep): boolean {
  return step.precondition === undefined || step.precondition.StringEquals[1] === 'Linux';
}

function skipped(name: string): StepResult {
  return {
    name,
    status: 'Skipped',
    responseCode: -1,
    stdout: '',
    stderr: '',
    standardOutputContent: '',
    standardErrorContent: '',
    output: '',
    durationMs: 0,
  };
}

function singleValue(name: string, value: string | readonly string[] | undefined) {
  if (value === undefined || typeof value === 'string') return value;
  if (value.length !== 1) {
    throw new SsmParameterError(`parameter ${name} is a String and takes exactly one value`);
  }
  return value[0];
}

function wholeMatch(pattern: string, value: string): boolean {
  // SSM matches allowedPattern against the whole value; anchor it whatever the author wrote.
  return new RegExp(`^(?:${pattern})$`).test(value);
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new SsmDocumentError(`${what} must be a string`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
