import {
  loadCommandDocument,
  resolveParameters,
  runCommandDocument,
  type CommandDocument as SsmDocument,
} from '../ssm-document-runner';
import type { CommandDocument, CommandRun, FleetInstanceView } from './fleet-view';

/**
 * A real SSM command document (e.g. infra/ssm/apply-bundle.yml) made runnable by the SSM
 * stand-in: parameters are validated and the steps run by the deploy team's document runner
 * (packages/local-stack/ssm-document-runner.ts) in each simulated instance's environment.
 * SendCommand parameters are lists (String parameters take one value).
 */
export async function loadSsmDocument(name: string, path: string): Promise<CommandDocument> {
  const document = await loadCommandDocument(path);
  return ssmDocument(name, document);
}

function single(parameters: Record<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(parameters)) {
    if (!Array.isArray(values) || values.length !== 1 || typeof values[0] !== 'string') {
      throw new Error(`parameter ${name} must have exactly one string value`);
    }
    out[name] = values[0];
  }
  return out;
}

export function ssmDocument(name: string, document: SsmDocument): CommandDocument {
  return {
    name,
    stepNames: document.mainSteps.map((s) => s.name),
    validateParameters(parameters) {
      resolveParameters(document, single(parameters));
    },
    async run(instance: FleetInstanceView, parameters, signal): Promise<CommandRun> {
      const result = await runCommandDocument(document, {
        parameters: single(parameters),
        env: instance.commandEnv,
        cwd: instance.workDir,
        // The command's execution timeout ends the running step's process group.
        signal,
      });
      const ran = result.steps.filter((s) => s.status !== 'Skipped');
      const last = ran[ran.length - 1];
      return {
        exitCode:
          result.status === 'Success' ? 0 : result.responseCode === 0 ? 1 : result.responseCode,
        stdout: ran.map((s) => s.stdout).join(''),
        stderr: ran.map((s) => s.stderr).join(''),
        timedOut: result.status === 'TimedOut',
        pluginOutput: last?.output,
        stepName: last?.name,
      };
    },
  };
}
