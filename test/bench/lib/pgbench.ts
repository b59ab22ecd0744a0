import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PG_BIN_DIR } from '../../../packages/local-stack/postgres-cluster';

const execFileAsync = promisify(execFile);
export const PGBENCH = join(PG_BIN_DIR, 'pgbench');

/** pgbench -i on the writer (the replicas get the tables by streaming replication). */
export async function pgbenchInit(host: string, port: number): Promise<void> {
  await execFileAsync(
    PGBENCH,
    ['-i', '-s', '1', '-q', '-h', host, '-p', String(port), '-U', 'postgres', 'postgres'],
    {
      timeout: 60_000,
    },
  );
}

export interface PgbenchRun {
  processed: number;
  failed: number;
  abortedClients: number;
  tps: number;
  /** pgbench's "average connection time" (ms), 0 when it printed none. */
  connectionMs: number;
  /** pgbench's "latency average" (ms), 0 when it printed none. */
  latencyMs: number;
  /** Per-second tps from --progress, in order. */
  perSecond: number[];
  exitCode: number;
  stderrTail: string;
}

/**
 * A running `pgbench -n -S` (select-only) with per-second progress. `stop()` ends it early
 * (SIGINT): pgbench then prints no summary, so the run is read from its progress lines and
 * the "client N aborted" lines it prints as they happen (a select-only script has no
 * serialization failures, so aborts are its only failures).
 */
export function startPgbench(options: {
  host: string;
  port: number;
  database: string;
  clients: number;
  seconds: number;
  /** Default postgres with no password (the local stack's trust auth). */
  user?: string;
  password?: string;
  /** Extra environment (PGSSLMODE, PGSSLROOTCERT, ...). */
  env?: NodeJS.ProcessEnv;
  /** -C: a new connection per transaction. */
  connectEach?: boolean;
  /** -R: a fixed offered rate (transactions per second over all clients). */
  rate?: number;
}): { done: Promise<PgbenchRun>; pid: number | undefined; stop(): Promise<PgbenchRun> } {
  const child = spawn(
    PGBENCH,
    [
      '-n',
      '-S',
      '-c',
      String(options.clients),
      '-j',
      '2',
      '-T',
      String(options.seconds),
      '-P',
      '1',
      ...(options.connectEach ? ['-C'] : []),
      ...(options.rate ? ['-R', String(options.rate)] : []),
      '-h',
      options.host,
      '-p',
      String(options.port),
      '-U',
      options.user ?? 'postgres',
      options.database,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The password through the environment, never on the command line.
      env: {
        ...process.env,
        ...options.env,
        ...(options.password ? { PGPASSWORD: options.password } : {}),
      },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // A spawn failure is reported here and then closes with a negative code (below).
  child.on('error', (error) => {
    stderr += String(error);
  });
  const done = new Promise<PgbenchRun>((resolve) => {
    child.on('close', (code) => {
      const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? 0);
      resolve({
        processed:
          num(/number of transactions actually processed: (\d+)/) ||
          Math.round(
            [...stderr.matchAll(/progress: [\d.]+ s, ([\d.]+) tps/g)].reduce(
              (a, m) => a + Number(m[1]),
              0,
            ),
          ),
        failed: num(/number of failed transactions: (\d+)/),
        abortedClients: (stderr.match(/client \d+ aborted/g) ?? []).length,
        tps: num(/tps = ([\d.]+)/),
        connectionMs: num(/average connection time = ([\d.]+) ms/),
        latencyMs: num(/latency average = ([\d.]+) ms/),
        perSecond: [...stderr.matchAll(/progress: [\d.]+ s, ([\d.]+) tps/g)].map((m) =>
          Number(m[1]),
        ),
        exitCode: code ?? -1,
        stderrTail: stderr
          .split('\n')
          .filter((l) => !l.startsWith('progress'))
          .slice(-5)
          .join(' | '),
      });
    });
  });
  return {
    done,
    pid: child.pid,
    stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      return done;
    },
  };
}
