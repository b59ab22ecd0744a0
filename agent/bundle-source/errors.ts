/** The bundle (or the desired pointer) could not be read: not found, access denied, timeout. */
export class BundleSourceError extends Error {
  override readonly name = 'BundleSourceError';
}

/** The table holds no desired pointer yet: no cluster was ever registered and reconciled. */
export class NothingDesiredError extends BundleSourceError {}
