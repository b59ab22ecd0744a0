import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PostgresCluster } from './postgres-cluster';

/**
 * Make every node of a simulated cluster ask `role` for its password (scram-sha-256) from
 * loopback, ahead of the stack's trust lines (first match wins), and reload: a rotated probe
 * credential is then really checked, as Aurora checks it. The line is `hostssl` when the
 * cluster's pg_hba already requires TLS, so it never opens a plaintext path.
 */
export async function requirePasswordFor(pg: PostgresCluster, role: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error(`role ${role} is not a plain name`);
  for (const node of pg.nodes()) {
    const hba = join(node.dataDir, 'pg_hba.conf');
    const text = readFileSync(hba, 'utf8');
    const kind = /^hostssl\s/m.test(text) ? 'hostssl' : 'host';
    const line = `${kind} all ${role} 127.0.0.0/8 scram-sha-256\n`;
    if (!text.startsWith(line)) writeFileSync(hba, line + text);
    if (node.running) await pg.query(node.name, 'SELECT pg_reload_conf()');
  }
}
