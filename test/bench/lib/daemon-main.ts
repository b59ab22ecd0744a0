import { runServe } from '../../../agent/health/serve';

/**
 * Runs the agent team's health daemon (agent/health/serve.ts runServe) in its own process,
 * so the benchmarks can account its CPU and memory apart from their own. Only until the
 * agent CLI (`aurora-haproxy-agent serve`) is there to start instead.
 * Usage: daemon-main.ts '<health config JSON>'
 */
const config = JSON.parse(process.argv[2] ?? '{}');
const daemon = await runServe(config, { log: { info() {}, warn() {}, error() {} } as never });
process.stdout.write(`ready ${daemon.checkPort}\n`);
const stop = () => {
  void daemon.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
