/**
 * Errors of the rotating secrets (PgBouncer's userlist, the probe credential). Messages name
 * the secret, its version and the line or field at fault, never a value: a password must not
 * reach a log, a host report or a result line.
 */
export class SecretFormatError extends Error {
  override readonly name = 'SecretFormatError';
}

/** Secrets Manager could not be read (network, throttling, permissions, missing secret). */
export class SecretReadError extends Error {
  override readonly name = 'SecretReadError';
}

/** A valid new version could not be put in use (file write, PgBouncer RELOAD, probe proof). */
export class SecretApplyError extends Error {
  override readonly name = 'SecretApplyError';
}
