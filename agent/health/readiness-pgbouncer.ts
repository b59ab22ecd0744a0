import { PgbouncerAdmin, type PgbouncerAdminTarget } from '../pgbouncer/admin';
import { expectedDatabases } from '../pgbouncer/verify-databases';
import { StateStore } from '../state/state-store';

/**
 * The PgBouncer half of the readiness endpoint: PgBouncer's admin console answers and SHOW
 * DATABASES lists every alias of the applied bundle (with the applied sha). Pass conditions:
 * the applied bundle is readable and is the one the daemon follows (`sha`), the console answers
 * within 1 s, and no alias is missing. A success is cached for 1 s (the NLB asks every 10 s);
 * a failure is asked again on the next request.
 */
const TTL_MS = 1_000;
let cached: { key: string; at: number } | undefined;

export async function pgbouncerServes(
  target: { admin: PgbouncerAdminTarget; stateDir: string },
  sha: string,
): Promise<{ ok: boolean; reason: string }> {
  const key = `${target.admin.host}:${target.admin.port}/${sha}`;
  if (cached?.key === key && Date.now() - cached.at < TTL_MS) return { ok: true, reason: '' };
  cached = undefined;
  let aliases: string[];
  try {
    const bundle = new StateStore(target.stateDir).readAppliedBundle();
    if (bundle?.sha256 !== sha)
      return { ok: false, reason: 'applied bundle changed; asking again' };
    aliases = expectedDatabases(bundle).map((d) => d.alias);
  } catch {
    return { ok: false, reason: 'applied bundle unreadable' };
  }
  let served: Set<string>;
  try {
    const admin = new PgbouncerAdmin({ ...target.admin, connectTimeoutMs: 1_000 });
    served = new Set((await admin.showDatabases()).map((d) => d.name));
  } catch {
    return { ok: false, reason: 'PgBouncer admin console unreachable' };
  }
  const missing = aliases.filter((alias) => !served.has(alias));
  if (missing.length > 0) {
    return {
      ok: false,
      reason: `PgBouncer does not serve ${missing.length} alias(es) of the bundle`,
    };
  }
  cached = { key, at: Date.now() };
  return { ok: true, reason: '' };
}
