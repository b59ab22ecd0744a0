import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PG_BIN_DIR } from '../../packages/local-stack/postgres-cluster';

/**
 * `pgbench` read-write (the built-in tpcb-like script) with N clients that outlive a
 * failover. pgbench aborts a client on a lost connection and never reconnects, so each client
 * is its own `pgbench -c 1` process, launched again `retryDelayMs` after it ends early, as an
 * application retries. Every committed transaction comes from pgbench's per-transaction log
 * (`-l`: completion time and latency, so start and end); a failed one is a log line marked
 * failed, or the transaction a process was in when it aborted (started at the process's last
 * commit, or at its launch if it committed nothing), with pgbench's error line.
 */
export interface PgbenchWritersOptions {
  host: string;
  port: number;
  database: string;
  clients: number;
  seconds: number;
  /** Directory for pgbench's transaction logs (created). */
  logDir: string;
  user?: string;
  env?: NodeJS.ProcessEnv;
  retryDelayMs?: number;
  /**
   * The host of each launch (default `host`): a client connecting by a DNS name resolves it
   * when it (re)connects, through whatever cache it has.
   */
  resolveHost?: () => Promise<string>;
}

export interface WriteTransaction {
  startedAt: number;
  endedAt: number;
}

export interface FailedTransaction {
  client: number;
  startedAt: number;
  failedAt: number;
  error: string;
}

export interface PgbenchWritersRun {
  committed: WriteTransaction[];
  failed: FailedTransaction[];
  /** pgbench processes launched (clients + relaunches). */
  launches: number;
}

interface Launch {
  client: number;
  pid: number;
  launchedAt: number;
  exitedAt: number;
  code: number;
  stderr: string;
  prefix: string;
}

export function startPgbenchWriters(options: PgbenchWritersOptions): {
  done: Promise<PgbenchWritersRun>;
  pids: () => number[];
} {
  mkdirSync(options.logDir, { recursive: true });
  const deadline = Date.now() + options.seconds * 1000;
  const live = new Set<number>();
  const launches: Launch[] = [];
  const runClient = async (client: number) => {
    for (let n = 0; ; n++) {
      const remaining = Math.floor((deadline - Date.now()) / 1000);
      if (remaining < 1) return;
      const prefix = join(options.logDir, `c${client}-${n}`);
      const host = options.resolveHost ? await options.resolveHost() : options.host;
      const launch = await runOnce(client, prefix, remaining, host);
      launches.push(launch);
      if (launch.code !== 0) await new Promise((r) => setTimeout(r, options.retryDelayMs ?? 100));
    }
  };
  const runOnce = (client: number, prefix: string, seconds: number, host: string) =>
    new Promise<Launch>((resolve) => {
      const launchedAt = Date.now();
      const child = spawn(
        join(PG_BIN_DIR, 'pgbench'),
        [
          '-n',
          '-c',
          '1',
          '-T',
          String(seconds),
          '-l',
          `--log-prefix=${prefix}`,
          '-h',
          host,
          '-p',
          String(options.port),
          '-U',
          options.user ?? 'postgres',
          options.database,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env } },
      );
      const pid = child.pid ?? -1;
      live.add(pid);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      // A spawn failure is reported here and then closes with a negative code (below).
      child.on('error', (error) => {
        stderr += String(error);
      });
      child.on('close', (code) => {
        live.delete(pid);
        resolve({
          client,
          pid,
          launchedAt,
          exitedAt: Date.now(),
          code: code ?? -1,
          stderr,
          prefix,
        });
      });
    });
  const done = Promise.all(Array.from({ length: options.clients }, (_, i) => runClient(i))).then(
    () => collect(options.logDir, launches),
  );
  return { done, pids: () => [...live] };
}

function collect(logDir: string, launches: readonly Launch[]): PgbenchWritersRun {
  const files = readdirSync(logDir);
  const committed: WriteTransaction[] = [];
  const failed: FailedTransaction[] = [];
  for (const launch of launches) {
    const base = launch.prefix.split('/').pop() as string;
    let lastEnd: number | undefined;
    for (const file of files.filter((f) => f.startsWith(`${base}.`))) {
      for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
        // client_id transaction_no time script_no time_epoch time_us [...]
        const f = line.trim().split(/\s+/);
        if (f.length < 6) continue;
        const endedAt = Number(f[4]) * 1000 + Number(f[5]) / 1000;
        if (f[2] === 'failed') {
          failed.push({
            client: launch.client,
            startedAt: lastEnd ?? launch.launchedAt,
            failedAt: endedAt,
            error: 'failed (pgbench log)',
          });
        } else {
          const startedAt = endedAt - Number(f[2]) / 1000;
          committed.push({ startedAt, endedAt });
        }
        lastEnd = Math.max(lastEnd ?? 0, endedAt);
      }
    }
    if (launch.code !== 0) {
      const error =
        launch.stderr
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '' && !l.startsWith('pgbench (') && !/^(progress|starting)/.test(l))
          .slice(0, 2)
          .join(' / ') || `exit code ${launch.code}`;
      failed.push({
        client: launch.client,
        startedAt: lastEnd ?? launch.launchedAt,
        failedAt: launch.exitedAt,
        error: error.slice(0, 240),
      });
    }
  }
  committed.sort((a, b) => a.endedAt - b.endedAt);
  failed.sort((a, b) => a.failedAt - b.failedAt);
  return { committed, failed, launches: launches.length };
}

export interface WriterFailoverFigures {
  /** Promotion -> the first commit that ended after it (null: none). */
  firstCommitMs: number | null;
  committedAfterPromotion: number;
  failed: number;
  failedAfterPromotion: number;
  /** Error text (numbers and addresses blanked) -> count, over every failure. */
  errors: Record<string, number>;
}

export function writerFailoverFigures(
  run: PgbenchWritersRun,
  promotedAt: number,
): WriterFailoverFigures {
  const after = run.committed.filter((t) => t.endedAt > promotedAt);
  const errors: Record<string, number> = {};
  for (const f of run.failed) {
    const key = f.error.replace(/\d+(\.\d+)*/g, 'N').slice(0, 160);
    errors[key] = (errors[key] ?? 0) + 1;
  }
  return {
    firstCommitMs: after[0] ? Math.round(after[0].endedAt - promotedAt) : null,
    committedAfterPromotion: after.length,
    failed: run.failed.length,
    failedAfterPromotion: run.failed.filter((f) => f.startedAt >= promotedAt).length,
    errors,
  };
}
