/** Errors of the reconcile unit. */
export abstract class ReconcileError extends Error {}

/**
 * The desired pointer was moved by another run twice in a row, each time to another
 * bundle than ours. Nothing of this run was published; the next trigger (or the schedule)
 * looks again.
 */
export class ReconcileConflictError extends ReconcileError {
  override readonly name = 'ReconcileConflictError';
}

/** The reconcile Lambda's environment is incomplete or invalid. */
export class ReconcileConfigError extends ReconcileError {
  override readonly name = 'ReconcileConfigError';
}
