/**
 * An SDK client given as is (tests, the CLI's local mode), or created on first use: the
 * admin Lambda loads a client's module only for the actions that call that service (RDS for
 * `add`, Lambda after a change, SSM and Auto Scaling for `status`), not at init.
 */
export type ClientSource<T extends object> = T | (() => Promise<T>);

export function clientOf<T extends object>(source: ClientSource<T>): Promise<T> {
  return typeof source === 'function' ? (source as () => Promise<T>)() : Promise.resolve(source);
}

/** A loader run once; a failed load is tried again next time. */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}
