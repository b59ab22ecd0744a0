import type { AgentResult } from '@aurora-haproxy/contract/agent-result';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { Command } from 'commander';
import { applyBundle } from './apply/apply';
import { createApplyDeps, createBundleSource } from './apply/deps';
import { formatResultLine, limitError } from './apply/result';
import { syncDesired } from './apply/sync';
import { type AgentConfig, configPathFrom, loadAgentConfig } from './config';
import { recordApplyMetrics } from './report/start';
import { formatStatus } from './status/format';
import { collectStatus } from './status/status';

/**
 * aurora-haproxy-agent: the on-host agent.
 *   apply --sha256 <sha> [--bundle-file <path>] [--force]   apply one bundle (the SSM document runs this)
 *   sync                                          apply the desired bundle (boot, before HAProxy)
 *   status [--json]                               applied sha, last result, HAProxy servers
 *   secrets-sync                                  read the userlist/probe secrets once (boot)
 *   serve                                         the health daemon
 * Config: --config, else AURORA_HAPROXY_AGENT_CONFIG, else /etc/aurora-haproxy/agent.json.
 * apply and sync print exactly one JSON line on stdout (progress goes to stderr) and exit 1
 * when it says ok: false.
 */
const stderrLog = (line: string) => process.stderr.write(`${line}\n`);

function printResult(result: AgentResult): void {
  let line: string;
  try {
    line = formatResultLine(result);
  } catch (error) {
    // Never leave the caller without its one line.
    line = JSON.stringify(failedResult(result.sha256.slice(0, 64), error));
    result = { ...result, ok: false };
  }
  process.stdout.write(`${line}\n`);
  process.exitCode = result.ok ? 0 : 1;
}

function failedResult(sha256: string, error: unknown): AgentResult {
  return {
    ok: false,
    sha256,
    action: 'unchanged',
    durationMs: 0,
    error: limitError(errorMessage(error)),
  };
}

export function buildProgram(): Command {
  const program = new Command('aurora-haproxy-agent')
    .description('aurora-haproxy on-host agent')
    .option('--config <path>', 'agent config file (JSON)')
    .showHelpAfterError();
  const config = (): AgentConfig => loadAgentConfig(configPathFrom(program.opts().config));

  program
    .command('apply')
    .description('apply the bundle with this sha256')
    .requiredOption('--sha256 <sha>', 'sha256 of the bundle to apply')
    .option('--bundle-file <path>', 'read the bundle from this file instead of DynamoDB')
    .option('--force', 'reload a bundle HAProxy refused before without its trial start or backoff')
    .action(async (options: { sha256: string; bundleFile?: string; force?: boolean }) => {
      let result: AgentResult;
      let loaded: AgentConfig | undefined;
      try {
        loaded = config();
        const deps = createApplyDeps(loaded, { bundleFile: options.bundleFile, log: stderrLog });
        result = await applyBundle(deps, { sha256: options.sha256, force: options.force === true });
      } catch (error) {
        result = failedResult(options.sha256, error);
      }
      printResult(result);
      if (loaded) recordApplyMetrics(loaded, result);
    });

  program
    .command('sync')
    .description('apply the desired bundle from the table (boot, before HAProxy starts)')
    .action(async () => {
      let result: AgentResult;
      let loaded: AgentConfig | undefined;
      try {
        loaded = config();
        result = await syncDesired(
          createApplyDeps(loaded, { log: stderrLog }),
          createBundleSource(loaded),
        );
      } catch (error) {
        result = failedResult('', error);
      }
      printResult(result);
      if (loaded) recordApplyMetrics(loaded, result);
    });

  program
    .command('status')
    .description('applied bundle, last apply, HAProxy servers')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const status = await collectStatus(config());
      process.stdout.write(options.json ? `${JSON.stringify(status)}\n` : formatStatus(status));
    });

  program
    .command('secrets-sync')
    .description("read the userlist and probe secrets once: write PgBouncer's auth_file (boot)")
    .action(async () => {
      const { syncSecretsOnce } = await import('./secrets/boot-sync');
      try {
        const result = await syncSecretsOnce(config());
        process.stdout.write(`${JSON.stringify(result)}\n`);
        process.exitCode = result.ok ? 0 : 1;
      } catch (error) {
        process.stdout.write(
          `${JSON.stringify({ ok: false, error: limitError(errorMessage(error)) })}\n`,
        );
        process.exitCode = 1;
      }
    });

  program
    .command('serve')
    .description('run the health daemon (probes, tcp-check and postgresqlchk answers)')
    .action(async () => {
      const { runServe } = await import('./health/serve');
      const { jsonLinesLog } = await import('@aurora-haproxy/contract/log');
      const { startHostReporter } = await import('./report/start');
      const { startUserlistRotation } = await import('./secrets/start');
      const loaded = config();
      const log = jsonLinesLog();
      const daemon = await runServe(loaded.health, { log });
      // PgBouncer's client passwords follow their secret (a RELOAD per new version).
      const userlist = startUserlistRotation(loaded, log);
      const secrets = () =>
        [daemon.probeSecret?.status(), userlist?.status()].filter((s) => s !== undefined);
      // The host's view (verdicts, HAProxy, PgBouncer, secrets) to the reports table and metrics file.
      startHostReporter(loaded, daemon.monitor, log, secrets);
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    process.stderr.write(`aurora-haproxy-agent: ${errorMessage(error)}\n`);
    process.exitCode = 2;
  }
}

await main(process.argv);
