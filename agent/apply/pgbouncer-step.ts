import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { PgbouncerAdminError } from '../pgbouncer/errors';
import { installedInclude } from '../pgbouncer/host-include';
import { compareDatabases, expectedDatabases } from '../pgbouncer/verify-databases';
import { atomicWriteFile } from '../state/atomic-write';
import type { ApplyDeps } from './apply';

/**
 * PgBouncer's [databases] include: write it, RELOAD, and check what PgBouncer really serves
 * (SHOW DATABASES, verify-databases.ts), because RELOAD answers success even when PgBouncer
 * stopped reading the include halfway (issue 10). On a mismatch the last good include is
 * written back and reloaded, and the error says what PgBouncer lacked and what it serves now.
 * PgBouncer not running at boot (servicesMayBeDown): skipped, it reads the file when it starts.
 */
export class PgbouncerIncludeError extends Error {
  override readonly name = 'PgbouncerIncludeError';
}

export async function applyPgbouncerInclude(
  deps: ApplyDeps,
  args: {
    next: Bundle;
    /** The include and bundle PgBouncer served before (undefined: none known). */
    lastGood: { text: string | undefined; bundle: Bundle | undefined };
    /** decidePgbouncerReload (decide.ts): write the include and RELOAD, or keep. */
    reload: { reload: boolean; reason: string };
    servicesMayBeDown: boolean;
  },
): Promise<'applied' | 'skipped'> {
  const path = deps.config.pgbouncer.databasesPath;
  const { next, lastGood } = args;
  // An include PgBouncer loaded was checked when it was applied (and `unchanged` applies and
  // the readiness endpoint check it again): no admin round trip here, where a runtime apply's
  // drained slots are waiting for RECONNECT.
  if (!args.reload.reload) return 'applied';
  deps.log?.(`PgBouncer RELOAD: ${args.reload.reason}`);
  try {
    atomicWriteFile(path, installedInclude(next, deps.config.haproxy.host));
    await deps.pgbouncer.reload();
    const problems = compareDatabases(
      expectedDatabases(next),
      await deps.pgbouncer.showDatabases(),
    );
    if (problems.length === 0) return 'applied';
    throw new PgbouncerIncludeError(
      `PgBouncer did not load the bundle's [databases] include (RELOAD answered success): ${problems.join('; ')}`,
    );
  } catch (error) {
    const unreachable = error instanceof PgbouncerAdminError && /cannot reach/.test(error.message);
    if (args.servicesMayBeDown && unreachable) {
      deps.log?.('PgBouncer is not running: RELOAD skipped, it reads the include when it starts');
      return 'skipped';
    }
    if (lastGood.text === undefined) throw error;
    throw new PgbouncerIncludeError(
      `${errorMessage(error)}; ${await restore(deps, path, lastGood)}`,
      { cause: error },
    );
  }
}

async function restore(
  deps: ApplyDeps,
  path: string,
  lastGood: { text: string | undefined; bundle: Bundle | undefined },
): Promise<string> {
  try {
    atomicWriteFile(path, lastGood.text ?? '');
    await deps.pgbouncer.reload();
    if (!lastGood.bundle) return 'restored the previous include and reloaded it';
    const problems = compareDatabases(
      expectedDatabases(lastGood.bundle),
      await deps.pgbouncer.showDatabases(),
    );
    return problems.length === 0
      ? `restored the last good include (${lastGood.bundle.sha256}); PgBouncer serves its ${expectedDatabases(lastGood.bundle).length} alias(es)`
      : `restored the last good include (${lastGood.bundle.sha256}) but PgBouncer still differs: ${problems.join('; ')}`;
  } catch (error) {
    return `restoring the last good include failed too: ${errorMessage(error)}`;
  }
}
