import { type AgentResult, AgentResultSchema } from '@aurora-haproxy/contract/agent-result';
import {
  type CommandInvocation,
  paginateListCommandInvocations,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { InvocationLookupError } from './errors';

/** What one instance did with one command. */
export interface InstanceInvocation {
  instanceId: string;
  commandId: string;
  /** SSM invocation status: Pending, InProgress, Delayed, Success, Cancelled, TimedOut, Failed, Cancelling. */
  status: string;
  /** The agent's result line, when the output holds one. */
  result?: AgentResult;
  /** Why no result could be read from the output. */
  outputProblem?: string;
}

/** ListCommandInvocations (Details: true) for one command, every page. */
export async function listInvocations(
  ssm: SSMClient,
  commandId: string,
): Promise<InstanceInvocation[]> {
  const invocations: CommandInvocation[] = [];
  const pages = paginateListCommandInvocations(
    { client: ssm, pageSize: 50, stopOnSameToken: true },
    { CommandId: commandId, Details: true },
  );
  try {
    for await (const page of pages) invocations.push(...(page.CommandInvocations ?? []));
  } catch (error) {
    throw new InvocationLookupError(commandId, error);
  }
  return invocations.flatMap((inv) => {
    if (!inv.InstanceId) return [];
    const output = (inv.CommandPlugins ?? []).map((p) => p.Output ?? '').join('\n');
    const parsed = parseAgentOutput(output);
    return [
      {
        instanceId: inv.InstanceId,
        commandId,
        status: inv.Status ?? 'Unknown',
        ...('result' in parsed ? { result: parsed.result } : { outputProblem: parsed.problem }),
      },
    ];
  });
}

/**
 * The agent prints one JSON line {ok, sha256, action, durationMs, error?}; SSM returns the
 * first 2500 characters of stdout, followed by stderr after a "----------ERROR-------"
 * marker. The last line of stdout that is a valid agent result wins. Pure.
 */
export function parseAgentOutput(output: string): { result: AgentResult } | { problem: string } {
  const stdout = output.split('----------ERROR-------')[0] ?? '';
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'));
  for (const line of lines.reverse()) {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      continue;
    }
    const parsed = AgentResultSchema.safeParse(json);
    if (parsed.success) return { result: parsed.data };
  }
  return { problem: output.trim() ? 'no agent result line in the output' : 'no output' };
}
