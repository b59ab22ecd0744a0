/** The bundle (or the desired pointer) could not be read: not found, access denied, timeout. */
export class BundleSourceError extends Error {
  override readonly name = 'BundleSourceError';
}
