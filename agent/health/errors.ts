/** Errors of the health daemon. Messages never carry a password or a token. */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
}

export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

export class DaemonStatusError extends Error {
  override readonly name = 'DaemonStatusError';
}
