import * as z from 'zod';

/**
 * What `agent apply` prints: one JSON line on stdout (SSM shows the first 2500 characters),
 * and a non-zero exit code when ok is false.
 */
export const AGENT_ACTIONS = ['unchanged', 'runtime', 'reload', 'rollback'] as const;

export const AgentResultSchema = z.strictObject({
  ok: z.boolean(),
  sha256: z.string(),
  action: z.enum(AGENT_ACTIONS),
  durationMs: z.number().int().min(0),
  error: z.string().max(1500).optional(),
  /** The host's HAProxy and PgBouncer versions, when the agent could tell (optional: older
   * agents do not send them). */
  versions: z
    .strictObject({
      haproxy: z.string().max(40).optional(),
      pgbouncer: z.string().max(40).optional(),
    })
    .optional(),
  /** Why an ok result did nothing, e.g. a boot sync before any cluster is registered. */
  note: z.string().max(300).optional(),
});

export type AgentAction = (typeof AGENT_ACTIONS)[number];
export type AgentResult = z.infer<typeof AgentResultSchema>;

export const AGENT_RESULT_MAX_CHARS = 2500;
