import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { CHECK_MODES } from '@aurora-haproxy/contract/registry';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Command, CommanderError, Option } from 'commander';
import type { AdminDeps } from '../admin/admin';
import type { AdminResult, AdminSuccess } from '../admin/result';
import type { Log } from '../shared/observability';
import { fleetViewText, formatFailure, formatSuccess } from './format';
import { type AdminInvoker, clientConfig, lambdaAdminInvoker, localAdminInvoker } from './invoke';
import { addRequest, type ClusterOptionFlags, integer, updateRequest } from './requests';

/**
 * `aurora-haproxy`: the operator's CLI for the registry. It sends admin requests to the admin
 * Lambda (--function-name, or env AURORA_HAPROXY_ADMIN_FUNCTION), or with --local runs the
 * admin core in this process against the endpoints in AWS_ENDPOINT_URL_* (the local stack).
 * Exit codes: 0 ok, 1 the request failed, 2 bad usage.
 */
export interface CliDeps {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env?: NodeJS.ProcessEnv;
  /** Send requests here instead of the Lambda or the local core (tests, embedding). */
  admin?: AdminInvoker;
  /** With --local: dependencies to override (e.g. the local stack's reconcile and status). */
  localOverrides?: Partial<AdminDeps>;
  /** `clusters status --watch` waits with this between refreshes (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

interface WatchFlags {
  watch?: boolean;
  interval: string;
  count: string;
}

const CLEAR_SCREEN = '\x1b[H\x1b[2J';

function watchSettings(flags: WatchFlags): { intervalMs: number; count: number } | undefined {
  const interval = Number(flags.interval);
  const count = Number(flags.count);
  if (!Number.isInteger(interval) || interval < 1 || interval > 3600) return undefined;
  if (!Number.isInteger(count) || count < 0 || count > 100_000) return undefined;
  return { intervalMs: interval * 1000, count };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function statusViewOnly(result: AdminSuccess): string {
  if (result.action !== 'status') return formatSuccess(result);
  return fleetViewText(result).replace(/^\n/, '') || formatSuccess(result);
}

export const ADMIN_FUNCTION_ENV = 'AURORA_HAPROXY_ADMIN_FUNCTION';

interface GlobalFlags {
  json?: boolean;
  functionName?: string;
  local?: boolean;
  region?: string;
}

export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const env = deps.env ?? process.env;
  let exitCode = 0;

  const send = async (
    command: Command,
    request: Record<string, unknown>,
    render: (result: AdminSuccess) => string = formatSuccess,
    before = '',
  ) => {
    const flags = command.optsWithGlobals<GlobalFlags>();
    const invoker = deps.admin ?? invokerFor(flags, env, deps);
    if (!invoker) {
      deps.stderr.write(
        `error: no admin function: pass --function-name, set ${ADMIN_FUNCTION_ENV}, or use --local\n`,
      );
      exitCode = 2;
      return;
    }
    const result: AdminResult = await invoker(request);
    if (flags.json) {
      deps.stdout.write(`${before}${JSON.stringify(result, null, 2)}\n`);
    } else if (result.ok) {
      deps.stdout.write(`${before}${render(result)}`);
    } else {
      deps.stderr.write(formatFailure(result));
    }
    exitCode = result.ok ? 0 : 1;
  };

  const program = new Command('aurora-haproxy')
    .description('Manage the Aurora clusters served by the aurora-haproxy fleet')
    .option('--json', 'print the result as JSON')
    .option('--function-name <name>', `admin Lambda to invoke (default: $${ADMIN_FUNCTION_ENV})`)
    .option('--local', 'run the admin core in this process (endpoints from AWS_ENDPOINT_URL_*)')
    .option('--region <region>', 'AWS region')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => deps.stdout.write(text),
      writeErr: (text) => deps.stderr.write(text),
    });

  const clusters = program.command('clusters').description('registered clusters');

  withClusterOptions(
    clusters
      .command('add <clusterId>')
      .description('register a cluster (checked with RDS unless --force)')
      .requiredOption('--port <port>', 'HAProxy port of the cluster (1024-65535, not reserved)'),
  )
    .option('--force', 'skip the RDS checks (exists, aurora-postgresql, has a reader)')
    .action(
      (clusterId: string, flags: ClusterOptionFlags & { force?: boolean }, command: Command) =>
        send(command, addRequest(clusterId, flags)),
    );

  withClusterOptions(
    clusters
      .command('update <clusterId>')
      .description('change a cluster; options not given keep their value')
      .requiredOption('--version <version>', 'the version read (optimistic lock)')
      .option('--port <port>', 'new HAProxy port'),
  )
    .option('--no-fallback-to-writer', 'stop using the writer as a backup')
    .option('--no-az-affinity', 'every host uses every reader alike')
    .option('--no-writer', 'remove the writer endpoint (frees its alias and port)')
    .action(
      (clusterId: string, flags: ClusterOptionFlags & { version?: string }, command: Command) =>
        send(command, updateRequest(clusterId, flags)),
    );

  clusters
    .command('remove <clusterId>')
    .description('stop serving a cluster')
    .option('--version <version>', 'remove only if still at this version')
    .action((clusterId: string, flags: { version?: string }, command: Command) =>
      send(command, {
        action: 'remove',
        clusterId,
        ...(flags.version === undefined ? {} : { version: integer(flags.version) }),
      }),
    );

  clusters
    .command('get <clusterId>')
    .description('show one cluster')
    .action((clusterId: string, _flags: unknown, command: Command) =>
      send(command, { action: 'get', clusterId }),
    );

  clusters
    .command('list')
    .description('list every cluster')
    .action((_flags: unknown, command: Command) => send(command, { action: 'list' }));

  clusters
    .command('status [clusterId]')
    .description(
      'desired bundle, drift, stale topologies, and per cluster the readers x hosts matrix',
    )
    .option('--watch', 'refresh in place until interrupted')
    .option('--interval <seconds>', 'refresh interval of --watch', '2')
    .option('--count <n>', 'with --watch: stop after n refreshes (0: never)', '0')
    .action(async (clusterId: string | undefined, flags: WatchFlags, command: Command) => {
      const request = clusterId ? { action: 'status', clusterId } : { action: 'status' };
      // One cluster: its matrix only (the fleet-wide status is the command without an id).
      const render = clusterId ? statusViewOnly : formatSuccess;
      if (!flags.watch) return send(command, request, render);
      const watch = watchSettings(flags);
      if (!watch) {
        deps.stderr.write('error: --interval must be 1..3600 seconds, --count 0..100000\n');
        exitCode = 2;
        return;
      }
      for (let n = 1; watch.count === 0 || n <= watch.count; n++) {
        // Home + clear: the next picture replaces the last one in place.
        await send(command, request, render, CLEAR_SCREEN);
        if (exitCode === 2 || (watch.count !== 0 && n === watch.count)) break;
        await (deps.sleep ?? sleep)(watch.intervalMs);
      }
    });

  program
    .command('reconcile')
    .description('request a reconcile run now')
    .action((_flags: unknown, command: Command) => send(command, { action: 'reconcile-now' }));

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed.
      return error.exitCode === 0 ? 0 : 2;
    }
    deps.stderr.write(`error: ${errorMessage(error)}\n`);
    return 1;
  }
  return exitCode;
}

function withClusterOptions(command: Command): Command {
  return command
    .option('--db <alias[=dbname]>', 'PgBouncer alias and database (repeat; replaces all)', collect)
    .addOption(
      new Option('--balance <algorithm>', 'HAProxy balance').choices([
        'leastconn',
        'roundrobin',
        'random',
      ]),
    )
    .addOption(
      new Option('--check-mode <mode>', 'health check (agent: old name of tcp-check)').choices([
        ...CHECK_MODES,
      ]),
    )
    .option('--max-replica-lag-ms <ms>', 'fail readers lagging more than this')
    .option('--fallback-to-writer', 'use the writer as a backup when no reader passes')
    .option(
      '--az-affinity',
      'each host prefers readers in its own Availability Zone, all readers when none passes',
    )
    .addOption(
      new Option('--weights <mode>', 'server weights').choices(['equal', 'instance-class']),
    )
    .option('--exclude <instanceId>', 'never serve this instance (repeat; replaces all)', collect)
    .addOption(
      new Option('--pool-mode <mode>', "PgBouncer pool_mode of the cluster's aliases").choices([
        'session',
        'transaction',
      ]),
    )
    .option('--pool-size <n>', 'PgBouncer pool_size of each alias, per host (1-5000)')
    .option(
      '--max-db-connections <n>',
      'cap of server connections per alias and host (PgBouncer max_db_connections; 0: none)',
    )
    .option(
      '--max-prepared-statements <n>',
      'prepared statements in transaction mode (PgBouncer >= 1.21 max_prepared_statements; 0: off)',
    )
    .option('--slow-start-ms <ms>', 'ramp a joining or returning reader over this long (0: off)')
    .option(
      '--writer-alias <alias[=dbname]>',
      'writer endpoint: a PgBouncer alias that follows failovers (with --writer-port)',
    )
    .option('--writer-port <port>', "writer endpoint's HAProxy port (not the cluster's)")
    .addOption(
      new Option(
        '--writer-pool-mode <mode>',
        "writer alias's pool mode (default transaction)",
      ).choices(['transaction', 'session']),
    );
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function invokerFor(
  flags: GlobalFlags,
  env: NodeJS.ProcessEnv,
  deps: CliDeps,
): AdminInvoker | undefined {
  if (flags.local) {
    return localAdminInvoker(env, stderrLog(deps), {
      region: flags.region,
      overrides: deps.localOverrides,
    });
  }
  const functionName = flags.functionName ?? env[ADMIN_FUNCTION_ENV];
  if (!functionName) return undefined;
  return lambdaAdminInvoker(
    new LambdaClient(clientConfig(env, env.AWS_ENDPOINT_URL_LAMBDA, flags.region)),
    functionName,
  );
}

/** In-process admin logs go to stderr only for warnings and errors (stdout stays parseable). */
function stderrLog(deps: CliDeps): Log {
  const write = (level: string) => (message: string, attributes?: Record<string, unknown>) =>
    deps.stderr.write(
      `${level}: ${message}${attributes ? ` ${JSON.stringify(attributes)}` : ''}\n`,
    );
  return { debug: () => {}, info: () => {}, warn: write('warning'), error: write('error') };
}

/** Process entry (bin/aurora-haproxy.js). */
export async function main(): Promise<number> {
  return runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
