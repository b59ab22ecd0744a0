export class PgbouncerAdminError extends Error {
  override readonly name = 'PgbouncerAdminError';
  /** The command was sent but its answer did not come within the caller's bound. */
  replyTimedOut = false;
}
