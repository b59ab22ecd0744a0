/** Errors of the admin unit (the registry's own errors are in functions/registry/errors.ts). */
export type RdsCheckCode =
  | 'RDS_CLUSTER_NOT_FOUND'
  | 'RDS_NOT_AURORA_POSTGRESQL'
  | 'RDS_NO_READER'
  | 'RDS_UNAVAILABLE';

/** The RDS checks before `add` refused the cluster, or could not be made. */
export class RdsCheckError extends Error {
  override readonly name = 'RdsCheckError';
  constructor(
    readonly code: RdsCheckCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The fleet status could not be read (the orchestrator's state is unreachable). */
export class StatusUnavailableError extends Error {
  override readonly name = 'StatusUnavailableError';
  readonly code = 'STATUS_UNAVAILABLE';
}

/** The reconcile function could not be invoked (the scheduled run still catches up). */
export class ReconcileTriggerError extends Error {
  override readonly name = 'ReconcileTriggerError';
  readonly code = 'RECONCILE_TRIGGER_FAILED';
}
