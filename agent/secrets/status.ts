/**
 * What a host says about one rotating secret (the daemon's status, the host report,
 * `clusters status`): the version in use and since when, and why the latest version is not
 * in use when it is not. Never a value.
 */
export type WatchedSecretName = 'userlist' | 'probe';

export interface WatchedSecretStatus {
  name: WatchedSecretName;
  secretId: string;
  /** Secrets Manager's VersionId in use (null: none read yet). */
  versionId: string | null;
  /** When that version was put in use (epoch ms). */
  appliedAt: number | null;
  /** The last poll (epoch ms), successful or not. */
  checkedAt: number | null;
  /** Why the current version of the secret is not in use (format, read or apply failure). */
  error?: string;
}
