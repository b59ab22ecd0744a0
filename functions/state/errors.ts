/** Errors of the state unit (bundle store, desired pointer, topology cache, delivery records). */
export abstract class StateError extends Error {}

/** DynamoDB failed (throttling, network, permissions): nothing is known to have changed. */
export class StateStoreError extends StateError {
  override readonly name = 'StateStoreError';
}

/** The desired pointer moved since it was read: another reconcile won the compare-and-swap. */
export class DesiredPointerConflictError extends StateError {
  override readonly name = 'DesiredPointerConflictError';
  constructor(readonly expectedVersion: number | undefined) {
    super(
      `desired pointer is no longer at version ${expectedVersion ?? '(absent)'}: another reconcile changed it`,
    );
  }
}

/** A stored item does not match its schema (or a bundle its sha): it is not used. */
export class StoredItemInvalidError extends StateError {
  override readonly name = 'StoredItemInvalidError';
}

/** A bundle is larger than the table layout holds (BUNDLE_MAX_PARTS): it is not stored. */
export class BundleTooLargeStateError extends StateError {
  override readonly name = 'BundleTooLargeStateError';
}
