import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { HaproxyReloadError, HaproxySocketError } from '../haproxy/errors';
import { trialStart } from '../haproxy/trial-start';
import { PgbouncerAdminError } from '../pgbouncer/errors';
import { compareDatabases, expectedDatabases } from '../pgbouncer/verify-databases';
import type { ApplyDeps } from './apply';

/**
 * "The config starts" and "HAProxy runs it", proven rather than assumed (issue 16).
 * - proveStarts: before a config is installed for an HAProxy that is not running (boot sync),
 *   a trial start of the exact file (haproxy/trial-start.ts); refused -> nothing installed.
 * - confirmUnchanged: `unchanged` is reported only when HAProxy runs (a current worker on the
 *   master CLI) and PgBouncer serves exactly the bundle's aliases; at boot, with HAProxy not
 *   running yet, the installed file must pass a trial start instead.
 * - refusalReason: HAProxy 2.6's reload answer carries no reason; a trial start of the refused
 *   file (it fails at the same bind) gives HAProxy's own words.
 */
export async function proveStarts(deps: ApplyDeps, configPath: string): Promise<void> {
  await trialStart({
    binary: deps.config.haproxy.binary,
    configPath,
    host: deps.config.haproxy.host,
    timeoutMs: deps.config.haproxy.reloadTimeoutMs,
  });
}

/** undefined: HAProxy and PgBouncer run the applied bundle; otherwise what is wrong. */
export async function confirmUnchanged(
  deps: ApplyDeps,
  bundle: Bundle,
  servicesMayBeDown: boolean,
): Promise<string | undefined> {
  let haproxyRuns: boolean;
  try {
    haproxyRuns = (await deps.master.showProcOnce()).workers.length > 0;
  } catch (error) {
    if (!(error instanceof HaproxySocketError)) throw error;
    haproxyRuns = false;
  }
  if (!haproxyRuns) {
    if (!servicesMayBeDown) return 'HAProxy is not running (no worker on its master CLI)';
    try {
      await proveStarts(deps, deps.config.haproxy.configPath);
      deps.log?.('HAProxy is not running: the installed config passed a trial start');
    } catch (error) {
      return errorMessage(error);
    }
  }
  try {
    const problems = compareDatabases(
      expectedDatabases(bundle),
      await deps.pgbouncer.showDatabases(),
    );
    if (problems.length > 0) {
      return `PgBouncer does not serve the applied bundle's databases: ${problems.join('; ')}`;
    }
  } catch (error) {
    const down = error instanceof PgbouncerAdminError && /cannot reach/.test(error.message);
    if (!(down && servicesMayBeDown)) return `PgBouncer: ${errorMessage(error)}`;
  }
  return undefined;
}

/** The reload error, with HAProxy's reason added when its answer had none (2.6). */
export async function refusalReason(deps: ApplyDeps, error: unknown): Promise<string> {
  const text = errorMessage(error);
  if (!(error instanceof HaproxyReloadError) || !error.refused || error.reason !== undefined) {
    return text;
  }
  try {
    await proveStarts(deps, deps.config.haproxy.configPath);
    return `${text}; a trial start of the refused config succeeded (the cause is gone or was transient)`;
  } catch (trial) {
    return `${text}; ${errorMessage(trial)}`;
  }
}
