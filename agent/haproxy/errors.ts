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
  constructor(
    message: string,
    /** HAProxy refused the config (not: no answer); the previous worker keeps running. */
    readonly refused = false,
    /** HAProxy's own words for the refusal (3.0+: the reload answer's startup log). */
    readonly reason?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** HAProxy could not start on a config (trial-start.ts); the message carries its reason. */
export class HaproxyStartError extends Error {
  override readonly name = 'HaproxyStartError';
}
