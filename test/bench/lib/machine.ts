import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { findPgBinDir } from '../../../packages/local-stack/pg-bindir';

/** The machine a result was measured on; every JSON result carries it. */
export interface MachineInfo {
  /** /etc/os-release PRETTY_NAME (e.g. "Debian GNU/Linux 13 (trixie)"); absent in older results. */
  os?: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  haproxy: string;
  pgbouncer: string;
  postgresql: string;
  pgbench: string;
  /** 1-minute load average when the benchmark started (others' work on a shared machine). */
  loadAverage1m: number;
  /** True unless BENCH_DEDICATED=1 says nothing else ran on the machine. */
  shared: boolean;
  /** Git commit measured, with "+changes" when the work tree had uncommitted changes. */
  revision: string;
}

function revision(): string {
  // The Debian 13 leg runs in a chroot without git: the leg passes the host's view.
  if (process.env.BENCH_REVISION) return process.env.BENCH_REVISION;
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter((l) => l.trim() && !/ (test\/bench|docs\/BENCHMARKS\.md)/.test(l));
    return dirty.length ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

function firstLine(command: string, args: string[]): string {
  try {
    const out = execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return out.split('\n')[0]?.trim() ?? 'unknown';
  } catch {
    return 'missing';
  }
}

/** The PostgreSQL binaries the benchmarks run (pg-bindir.ts); 'missing' when none is found. */
function pgBinary(name: string): string {
  try {
    return join(findPgBinDir(), name);
  } catch {
    return 'missing';
  }
}

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const value = /^PRETTY_NAME=(.*)$/m.exec(text)?.[1]?.trim() ?? 'unknown';
    return value.replace(/^(["'])(.*)\1$/, '$2');
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const haproxy = /version (\S+)/.exec(firstLine('haproxy', ['-v']))?.[1] ?? 'missing';
  const pgbouncer =
    /(\d+\.\d+(?:\.\d+)?)/.exec(firstLine('pgbouncer', ['--version']))?.[1] ?? 'missing';
  const postgresql =
    /(\d+\.\d+)/.exec(firstLine(pgBinary('postgres'), ['--version']))?.[1] ?? 'missing';
  const pgbench =
    /(\d+\.\d+)/.exec(firstLine(pgBinary('pgbench'), ['--version']))?.[1] ?? 'missing';
  return {
    os: osName(),
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    haproxy,
    pgbouncer,
    postgresql,
    pgbench,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    shared: process.env.BENCH_DEDICATED !== '1',
    revision: revision(),
  };
}
