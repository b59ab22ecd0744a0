/** Errors of the agent's on-disk state: lock, state files. */
export class LockBusyError extends Error {
  override readonly name = 'LockBusyError';
}

export class StateFileError extends Error {
  override readonly name = 'StateFileError';
}
