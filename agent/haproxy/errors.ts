/** Errors talking to HAProxy: its sockets, its config check, its reloads. */
export class HaproxySocketError extends Error {
  override readonly name = 'HaproxySocketError';
  constructor(
    message: string,
    readonly code?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class HaproxyCommandError extends Error {
  override readonly name = 'HaproxyCommandError';
}

export class HaproxyConfigError extends Error {
  override readonly name = 'HaproxyConfigError';
}

export class HaproxyReloadError extends Error {
  override readonly name = 'HaproxyReloadError';
}
