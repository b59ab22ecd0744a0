import * as z from 'zod';
import { DEFAULT_SEND_OPTIONS } from '../delivery/send';
import { ReconcileConfigError } from './errors';

/**
 * The reconcile Lambda's environment. TABLE_NAME, FLEET_ASG_NAME and SSM_DOCUMENT_NAME are
 * required; the SSM_* tuning variables are optional with safe defaults.
 */
const EnvSchema = z.object({
  TABLE_NAME: z.string().min(1),
  FLEET_ASG_NAME: z.string().min(1),
  SSM_DOCUMENT_NAME: z.string().min(1),
  SSM_MAX_CONCURRENCY: z
    .string()
    .regex(/^(?:[1-9]\d*|[1-9]\d?%|100%)$/)
    .default(DEFAULT_SEND_OPTIONS.maxConcurrency),
  SSM_MAX_ERRORS: z
    .string()
    .regex(/^(?:\d+|\d{1,2}%|100%)$/)
    .default(DEFAULT_SEND_OPTIONS.maxErrors),
  SSM_TIMEOUT_SECONDS: z.coerce
    .number()
    .int()
    .min(30)
    .max(2_592_000)
    .default(DEFAULT_SEND_OPTIONS.timeoutSeconds),
  SSM_OUTPUT_LOG_GROUP: z.string().min(1).optional(),
});

export type ReconcileEnv = z.infer<typeof EnvSchema>;

export function readReconcileEnv(env: NodeJS.ProcessEnv): ReconcileEnv {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ReconcileConfigError(
      `reconcile environment: ${parsed.error.issues
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}`,
    );
  }
  return parsed.data;
}
