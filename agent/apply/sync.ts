import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { NothingDesiredError } from '../bundle-source/errors';
import type { BundleSource } from '../bundle-source/source';
import { type ApplyDeps, applyBundle } from './apply';
import { limitError } from './result';

/**
 * Boot sync: read the desired pointer and apply that bundle before HAProxy and PgBouncer take
 * traffic (the sync unit is ordered before them). They may not be running yet: the files are
 * then installed and loaded when they start.
 */
export async function syncDesired(deps: ApplyDeps, source: BundleSource): Promise<AgentResult> {
  const started = performance.now();
  let sha256: string;
  try {
    sha256 = (await source.getDesired()).sha256;
  } catch (error) {
    if (error instanceof NothingDesiredError) {
      // Not a failure: HAProxy starts with its empty config; the first reconcile delivers.
      return {
        ok: true,
        sha256: '',
        action: 'unchanged',
        durationMs: Math.round(performance.now() - started),
        note: 'nothing registered yet: no desired bundle in the table',
      };
    }
    return {
      ok: false,
      sha256: '',
      action: 'unchanged',
      durationMs: Math.round(performance.now() - started),
      error: limitError(`cannot read the desired bundle: ${errorMessage(error)}`),
    };
  }
  return applyBundle(
    { ...deps, loadBundle: (sha) => source.getBundle(sha) },
    { sha256, servicesMayBeDown: true },
  );
}
