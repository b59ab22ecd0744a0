import { join } from 'node:path';
import { PG_BIN_DIR } from '../../../packages/local-stack/postgres-cluster';
import { BENCH_DIR } from '../lib/result';

/**
 * BASELINE (seed-style) HAProxy config - the thing this project replaces, kept only for the
 * benchmarks. What the original shell script produced: one TCP listener per cluster on
 * localhost, every cluster member listed as a server (the external check is what keeps the
 * writer out), HAProxy's default balance (roundrobin), the forking psql external check with
 * HAProxy's default timings (inter 2s, fall 3, rise 2), no server-state file. It also binds
 * the unix socket PgBouncer uses on our hosts, so the same PgBouncer launcher can front
 * either HAProxy; that changes nothing about how the baseline checks or reloads.
 */
export const BASELINE_CHECK_SCRIPT = join(BENCH_DIR, 'baseline', 'psql-check.sh');
/** The same check calling `psql` through PATH (Debian's Perl wrapper), as the seed did. */
export const BASELINE_PATH_CHECK_SCRIPT = join(BENCH_DIR, 'baseline', 'psql-check-debian-path.sh');
/** The check's PATH: PostgreSQL's bin dir first, so psql-check.sh runs the real psql. */
export const BASELINE_CHECK_PATH = `${PG_BIN_DIR}:/usr/bin:/bin`;

export interface BaselineServer {
  name: string;
  address: string;
  port: number;
}

export interface BaselineCluster {
  name: string;
  port: number;
  servers: BaselineServer[];
}

export interface BaselineConfigOptions {
  runDir: string;
  socketDir?: string;
  listenAddress?: string;
  /** Defaults are HAProxy's own (what the seed used): 2000 ms, 3, 2. */
  interMs?: number;
  fall?: number;
  rise?: number;
  /** The check command; the seed-style psql script by default. */
  checkCommand?: string;
}

export function baselineHaproxyConfig(
  clusters: readonly BaselineCluster[],
  options: BaselineConfigOptions,
): string {
  const inter = options.interMs ?? 2000;
  const fall = options.fall ?? 3;
  const rise = options.rise ?? 2;
  const listen = options.listenAddress ?? '127.0.0.1';
  const lines = [
    '# BASELINE (seed-style) HAProxy config, written by test/bench/baseline/haproxy-config.ts.',
    '# This is the design aurora-haproxy replaces; it exists only to be measured against.',
    'global',
    '    maxconn 4000',
    '    external-check',
    '    insecure-fork-wanted',
    `    stats socket ${join(options.runDir, 'admin.sock')} mode 600 level admin`,
    '',
    'defaults',
    '    mode tcp',
    '    timeout connect 5s',
    '    timeout client 30m',
    '    timeout server 30m',
    '',
  ];
  for (const c of clusters) {
    lines.push(
      `listen ${c.name}`,
      `    bind ${listen}:${c.port}`,
      ...(options.socketDir
        ? [`    bind unix@${join(options.socketDir, `.s.PGSQL.${c.port}`)} mode 666`]
        : []),
      '    balance roundrobin',
      '    option external-check',
      `    external-check path "${BASELINE_CHECK_PATH}"`,
      `    external-check command ${options.checkCommand ?? BASELINE_CHECK_SCRIPT}`,
      `    default-server inter ${inter} fall ${fall} rise ${rise}`,
      ...c.servers.map((s) => `    server ${s.name} ${s.address}:${s.port} check`),
      '',
    );
  }
  return lines.join('\n');
}
