import {
  AGENT_RESULT_MAX_CHARS,
  type AgentResult,
  AgentResultSchema,
} from '@aurora-haproxy/contract/agent-result';

/** The contract allows 1500 characters of error; keep the start, which names the problem. */
export const ERROR_MAX_CHARS = 1500;

export function limitError(error: string): string {
  const oneLine = error.replace(/\s*\n\s*/g, ' | ');
  return oneLine.length <= ERROR_MAX_CHARS
    ? oneLine
    : `${oneLine.slice(0, ERROR_MAX_CHARS - 3)}...`;
}

/** The single stdout line of `apply`/`sync` (SSM shows the first 2500 characters). */
export function formatResultLine(result: AgentResult): string {
  const line = JSON.stringify(AgentResultSchema.parse(result));
  if (line.length > AGENT_RESULT_MAX_CHARS) throw new Error('agent result line too long');
  return line;
}
