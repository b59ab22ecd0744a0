import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { rowFqdn } from '../../agent/haproxy/servers-state';
import { instanceEndpointName } from './endpoint-names';
import type { FleetInstance } from './fleet';
import { PG_BIN_DIR } from './postgres-cluster';
import { instanceIdFor } from './rds-standin/simulated-nodes';
import { APP_DATABASE, LocalStack } from './stack';
import {
  countReads,
  haproxyProcess,
  type ReadSample,
  SLOW_READ_SQL,
  sampleReads,
  startReadLoad,
  waitForServersUp,
} from './stack-probes';
import { tlsView } from './tls/tls-probe';

/**
 * `npm run demo`: the whole loop on this machine, as a readable timeline. Start the stack ->
 * register a cluster through the admin path (the CLI invoking the admin Lambda, which invokes
 * reconcile) -> both instances apply the bundle -> reads through each instance's PgBouncer
 * land only on readers -> failover (stop the writer, promote a replica, RDS event) with the
 * convergence time -> a new reader takes traffic with no HAProxy reload -> remove the cluster
 * -> teardown. Exit 0 only when every stage met its expectation.
 *   --keep  leave the stack running after the reader stage and print how to connect
 *   --json  print the summary as JSON on stdout (the timeline goes to stderr)
 */
// The AWS SDK warns once about Node 20 support ending in 2027; keep the timeline readable.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'NodeVersionSupportWarning')
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

interface StageResult {
  stage: string;
  ok: boolean;
  seconds: number;
  detail: string;
}

const args = new Set(process.argv.slice(2));
const asJson = args.has('--json');
const keep = args.has('--keep');
const CLUSTER = 'orders';
const ALIAS = 'orders';
const BACKEND = `aurora-${CLUSTER}`;

const out = (text = '') => (asJson ? process.stderr : process.stdout).write(`${text}\n`);
const color = (code: number, text: string) =>
  !asJson && process.stdout.isTTY ? `\x1b[${code}m${text}\x1b[0m` : text;
const green = (t: string) => color(32, t);
const red = (t: string) => color(31, t);
const dim = (t: string) => color(2, t);
const bold = (t: string) => color(1, t);
const t0 = Date.now();
const clock = () => dim(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s]`);

function table(headers: string[], rows: (string | number)[][]): void {
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)),
  );
  const line = (cells: (string | number)[]) =>
    `      ${cells.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
  out(bold(line(headers)));
  for (const row of rows) out(line(row));
}

class StageFailed extends Error {}
function expect(condition: boolean, message: string): void {
  if (!condition) throw new StageFailed(message);
}

const results: StageResult[] = [];
/** `aurora-haproxy clusters status <cluster>` as the demo last saw it (printed at the end). */
let statusMatrix = '';
const measurements: Record<string, number> = {};

async function stage(name: string, run: () => Promise<string>): Promise<boolean> {
  const started = Date.now();
  out();
  out(`${clock()} ${bold(`▶ ${name}`)}`);
  try {
    const detail = await run();
    const seconds = (Date.now() - started) / 1000;
    results.push({ stage: name, ok: true, seconds, detail });
    out(`${clock()} ${green('✔')} ${detail} ${dim(`(${seconds.toFixed(1)} s)`)}`);
    return true;
  } catch (error) {
    const seconds = (Date.now() - started) / 1000;
    const detail = errorMessage(error);
    results.push({ stage: name, ok: false, seconds, detail });
    out(`${clock()} ${red('✘')} ${detail}`);
    if (!(error instanceof StageFailed) && error instanceof Error && error.stack)
      out(dim(error.stack));
    return false;
  }
}

function progress(text: string): void {
  out(`${clock()}   ${dim(`… ${text}`)}`);
}

const short = (sha: string | undefined) => (sha ? sha.slice(0, 12) : '-');

function lastResult(instance: FleetInstance): { action?: string; ok?: boolean } {
  try {
    const state = JSON.parse(readFileSync(join(instance.dir, 'state', 'state.json'), 'utf8')) as {
      lastResult?: { action?: string; ok?: boolean };
    };
    return state.lastResult ?? {};
  } catch {
    return {};
  }
}

async function main(): Promise<number> {
  out(bold('aurora-haproxy: the whole loop on this machine'));
  out(
    dim(
      'NLB -> PgBouncer -> HAProxy -> Aurora readers, kept true by reconcile (Lambda) + SSM + agent',
    ),
  );
  let stack: LocalStack | undefined;
  let port = 0;
  /** PostgreSQL port -> instance id of the simulated cluster. */
  const nodeByPort = new Map<number, string>();
  const refreshNodes = () => {
    if (!stack) return;
    for (const node of stack.cluster(CLUSTER).nodes()) {
      nodeByPort.set(node.port, instanceIdFor(CLUSTER, node.name));
    }
  };
  const readTargets = () =>
    (stack?.fleet.inService() ?? []).map((i) => ({
      instance: i,
      target: {
        host: i.host.listenAddress,
        port: i.pgbouncerPort,
        database: ALIAS,
        // TLS to PgBouncer, verified against the client CA (as a client with verify-ca).
        ...(i.clientSsl ? { ssl: i.clientSsl } : {}),
      },
    }));

  const ok =
    (await stage('start the stack', async () => {
      stack = await LocalStack.start({
        clusters: [{ clusterId: CLUSTER, replicas: 2 }],
        instances: 2,
        log: progress,
        // With --keep the demo waits for Ctrl-C itself, then tears down.
        handleSignals: !keep,
      });
      refreshNodes();
      port = await stack.freeClusterPort();
      const nodes = stack.cluster(CLUSTER).nodes();
      table(
        ['AURORA INSTANCE', 'ROLE', 'ENDPOINT (DNS NAME, AS RDS RETURNS IT)', 'RESOLVES TO'],
        nodes.map((n) => {
          const id = nodeByPort.get(n.port) ?? n.name;
          return [
            id,
            n.role === 'primary' ? 'writer' : 'reader',
            `${stack?.dns ? instanceEndpointName(id) : n.host}:${n.port}`,
            n.host,
          ];
        }),
      );
      table(
        ['HAPROXY INSTANCE', 'STATE', 'LISTEN', 'PGBOUNCER'],
        stack.fleet
          .instances()
          .map((i) => [
            i.instanceId,
            i.lifecycleState,
            i.host.listenAddress,
            `${i.host.listenAddress}:${i.pgbouncerPort}`,
          ]),
      );
      return `DynamoDB Local, simulated Aurora cluster ${CLUSTER} (1 writer + 2 readers), RDS/SSM/Auto Scaling/Lambda stand-ins, ${stack.fleet.instances().length} HAProxy hosts; instance endpoints are DNS names served by the stack's DNS server ${stack.dns?.nameserver ?? '(none)'}, which every host's HAProxy, agent and daemon ask`;
    })) &&
    (await stage(`register ${CLUSTER} through the admin path`, async () => {
      const s = stack as LocalStack;
      const argv = [
        'clusters',
        'add',
        CLUSTER,
        '--port',
        String(port),
        '--db',
        `${ALIAS}=${APP_DATABASE}`,
      ];
      out(`      $ aurora-haproxy ${argv.join(' ')}`);
      const run = await s.cliProcess(argv);
      for (const line of run.stdout.trim().split('\n')) out(`      ${dim(line)}`);
      expect(run.code === 0, `the CLI failed (${run.code}): ${run.stderr.trim()}`);
      return 'the CLI invoked the admin Lambda (Lambda API), which registered it and invoked reconcile';
    })) &&
    (await stage('reconcile -> SSM -> both instances apply the bundle', async () => {
      const s = stack as LocalStack;
      const started = Date.now();
      progress('waiting for every instance to apply the desired bundle');
      const sha = await s.waitForConvergence({ timeoutMs: 60_000 });
      measurements.firstApplySeconds = (Date.now() - started) / 1000;
      const run = s.reconcileRuns().at(-1);
      table(
        ['INSTANCE', 'APPLIED', 'ACTION'],
        s.fleet
          .inService()
          .map((i) => [
            i.instanceId,
            short(s.appliedShas().get(i.instanceId)),
            lastResult(i).action ?? '-',
          ]),
      );
      expect(run?.error === undefined, `reconcile failed: ${run?.error}`);
      return `desired ${short(sha)} applied on every instance`;
    }));
  // The stages below check independent expectations on a running stack: run them all.
  const checks = ok
    ? [
        await stage('100 reads through each PgBouncer land only on readers', async () => {
          refreshNodes();
          const readers = (stack as LocalStack).cluster(CLUSTER).replicas().length;
          progress('waiting for HAProxy health checks to pass on every instance');
          for (const { instance } of readTargets())
            await waitForServersUp(instance, BACKEND, readers);
          const rows: (string | number)[][] = [];
          let writerHits = 0;
          let errors = 0;
          for (const { instance, target } of readTargets()) {
            const counts = countReads(await sampleReads(target, 100, 8));
            writerHits += counts.fromWriter;
            errors += counts.errors;
            for (const [p, n] of [...counts.byPort].sort((a, b) => a[0] - b[0])) {
              rows.push([instance.instanceId, nodeByPort.get(p) ?? String(p), n]);
            }
            expect(
              counts.byPort.size === readers,
              `${instance.instanceId}: reads reached ${counts.byPort.size} nodes, not the ${readers} readers`,
            );
            // Evenly: no reader below half of its fair share (connection-level balancing).
            const fair = (counts.total - counts.errors) / readers;
            const least = Math.min(...counts.byPort.values());
            expect(
              least >= fair / 2,
              `${instance.instanceId}: a reader got ${least} of ${counts.total} reads`,
            );
          }
          table(['VIA INSTANCE', 'ANSWERED BY', 'QUERIES'], rows);
          expect(writerHits === 0, `${writerHits} reads were answered by the writer`);
          expect(errors === 0, `${errors} reads failed`);
          return 'every read answered by a reader, spread evenly over all of them, 0 on the writer, 0 errors';
        }),
        await stage('TLS on both sides: client -> PgBouncer and PgBouncer -> readers', async () => {
          const rows: string[][] = [];
          for (const { instance } of readTargets()) {
            const view = await tlsView(instance, ALIAS);
            rows.push([
              instance.instanceId,
              view.plaintextRefusal ? `refused (${view.plaintextRefusal})` : 'ACCEPTED',
              view.clientProtocol ?? '-',
              view.server.ssl
                ? `${view.server.version} (${nodeByPort.get(view.server.port) ?? view.server.port})`
                : 'PLAINTEXT',
            ]);
            expect(
              view.plaintextRefusal !== undefined,
              `${instance.instanceId} accepted a plaintext client`,
            );
            expect(
              view.clientProtocol !== undefined,
              `${instance.instanceId}: no TLS to PgBouncer`,
            );
            expect(
              view.server.ssl,
              `${instance.instanceId}: PgBouncer reached the reader in plaintext`,
            );
          }
          table(
            ['VIA INSTANCE', 'PLAINTEXT CLIENT', 'CLIENT TLS (verify-ca)', 'PGBOUNCER -> READER'],
            rows,
          );
          return 'clients: TLS required (certificate from the operator CA, verified by the client); PgBouncer -> HAProxy -> readers: TLS, verify-ca against the RDS CA stand-in; health probes: verify-full by instance endpoint name';
        }),
        await stage('failover: stop the writer, promote a replica, RDS event', async () => {
          const s = stack as LocalStack;
          const before = await s.desiredSha();
          const loads = readTargets().map(({ instance, target }) => ({
            instance,
            // Slow reads on 8 clients: pooled sessions on every reader, as in production.
            load: startReadLoad(target, 8, { sql: SLOW_READ_SQL, pauseMs: 0 }),
          }));
          await new Promise((r) => setTimeout(r, 500));
          const failover = await s.failover(CLUSTER);
          refreshNodes();
          const newWriterPort = [...nodeByPort].find(([, id]) => id === failover.newWriter)?.[0];
          out(
            `      stopped writer ${failover.oldWriter}; promoted ${failover.newWriter}; RDS-EVENT-0071 delivered`,
          );
          progress('waiting for every instance to apply the new bundle');
          await s.waitForConvergence({ not: before, timeoutMs: 60_000 });
          const convergedAt = Date.now();
          await new Promise((r) => setTimeout(r, 1000));
          const samples: ReadSample[] = [];
          for (const { load } of loads) samples.push(...(await load.stop()));
          const after = samples.filter((x) => x.at >= failover.promotedAt);
          const lastOnNewWriter = Math.max(
            0,
            ...after
              .filter((x) => x.serverPort === newWriterPort)
              .map((x) => x.at - failover.promotedAt),
          );
          const errors = after.filter((x) => x.error !== undefined);
          const lastError = Math.max(0, ...errors.map((x) => x.at - failover.promotedAt));
          const writerAfter1s = after.filter(
            (x) => x.at > failover.promotedAt + 1000 && x.inRecovery === false,
          ).length;
          measurements.lastReadOnNewWriterMs = lastOnNewWriter;
          measurements.lastReadErrorMs = lastError;
          measurements.failoverConvergenceMs = convergedAt - failover.promotedAt;
          table(
            ['MEASURED FROM PROMOTION', 'VALUE'],
            [
              ['reads sampled during failover', samples.length],
              ['last read answered by the new writer', `+${lastOnNewWriter} ms`],
              ['reads that failed (old writer gone)', `${errors.length}, last at +${lastError} ms`],
              ['reads on a writer after +1 s', writerAfter1s],
              ['every instance on the new bundle', `+${convergedAt - failover.promotedAt} ms`],
            ],
          );
          expect(
            writerAfter1s === 0,
            `${writerAfter1s} reads reached a writer more than 1 s after promotion`,
          );
          const tail = samples.filter((x) => x.at > convergedAt);
          expect(
            tail.length > 0 && tail.every((x) => x.error === undefined),
            'clients did not recover after convergence',
          );
          return `converged ${((convergedAt - failover.promotedAt) / 1000).toFixed(2)} s after promotion; no read on a writer after +1 s`;
        }),
        await stage('add a reader: it takes traffic with no HAProxy reload', async () => {
          const s = stack as LocalStack;
          const before = await s.desiredSha();
          const procs = new Map<string, { workerPid: number; reloads: number }>();
          for (const i of s.fleet.inService()) procs.set(i.instanceId, await haproxyProcess(i));
          const added = await s.addReader(CLUSTER);
          refreshNodes();
          out(
            `      new Aurora reader ${added} (${s.dns ? instanceEndpointName(added) : 'IP endpoint'}); RDS-EVENT-0005 delivered`,
          );
          const started = Date.now();
          await s.waitForConvergence({ not: before, timeoutMs: 60_000 });
          measurements.addReaderConvergenceMs = Date.now() - started;
          const readers = s
            .cluster(CLUSTER)
            .replicas()
            .filter((r) => r.running).length;
          for (const { instance } of readTargets())
            await waitForServersUp(instance, BACKEND, readers);
          measurements.addReaderServingMs = Date.now() - started;
          const addedPort = [...nodeByPort].find(([, id]) => id === added)?.[0];
          const rows: (string | number)[][] = [];
          for (const { instance, target } of readTargets()) {
            const now = await haproxyProcess(instance);
            const was = procs.get(instance.instanceId);
            const counts = countReads(await sampleReads(target, 100, 16));
            const onNew = addedPort === undefined ? 0 : (counts.byPort.get(addedPort) ?? 0);
            rows.push([
              instance.instanceId,
              lastResult(instance).action ?? '-',
              `${was?.workerPid} -> ${now.workerPid}`,
              now.reloads - (was?.reloads ?? 0),
              onNew,
            ]);
            expect(
              now.workerPid === was?.workerPid,
              `${instance.instanceId}: HAProxy worker changed (${was?.workerPid} -> ${now.workerPid})`,
            );
            expect(now.reloads === was?.reloads, `${instance.instanceId}: HAProxy reloaded`);
            const follows = (await instance.haproxy?.runtime.showServersState(BACKEND))?.rows.some(
              (r) => rowFqdn(r) === instanceEndpointName(added),
            );
            expect(
              !s.dns || follows === true,
              `${instance.instanceId}: no slot follows ${instanceEndpointName(added)}`,
            );
            expect(onNew > 0, `${instance.instanceId}: the new reader got no reads`);
            expect(
              counts.fromWriter === 0 && counts.errors === 0,
              `${instance.instanceId}: ${counts.fromWriter} reads on the writer, ${counts.errors} errors`,
            );
          }
          table(['INSTANCE', 'APPLY', 'WORKER PID', 'RELOADS', `READS ON ${added}`], rows);
          return `${added} serves reads on every instance, filled by its DNS name (set server … fqdn); same HAProxy worker, 0 reloads`;
        }),
      ]
    : [];

  let okAll = ok && checks.every(Boolean);
  // The fleet as the hosts report it: the last thing the demo shows (summary below).
  if (ok && stack) {
    const s = stack;
    okAll =
      (await stage(`clusters status ${CLUSTER}: readers x hosts`, async () => {
        const hosts = s.fleet.inService().length;
        let text = '';
        const deadline = Date.now() + 20_000;
        // Reports arrive within a heartbeat (5 s) of a change; wait for every host's.
        for (;;) {
          const run = await s.cliProcess(['clusters', 'status', CLUSTER]);
          expect(run.code === 0, `the CLI failed: ${run.stderr.trim()}`);
          text = run.stdout;
          if (text.includes(`reader UP on ${hosts}/${hosts} hosts`) && !text.includes('STALE'))
            break;
          expect(Date.now() < deadline, `status did not show every host fresh:\n${text}`);
          await new Promise((r) => setTimeout(r, 500));
        }
        statusMatrix = text;
        expect(
          text.split('\n').every((l) => l.length <= 80),
          'a status line is wider than 80 columns',
        );
        return `every host reports every reader; the matrix closes the demo`;
      })) && okAll;
  }
  if (ok && keep && stack) {
    const s = stack;
    out();
    out(bold('The stack keeps running (--keep). Connect with:'));
    for (const i of s.fleet.inService()) {
      out(
        `  ${PG_BIN_DIR}/psql "host=${i.host.listenAddress} port=${i.pgbouncerPort} dbname=${ALIAS} user=postgres sslmode=verify-ca sslrootcert=${s.clientCaFile}"   # via ${i.instanceId}`,
      );
    }
    out(`  state, configs and logs: ${s.baseDir}`);
    out('Press Ctrl-C to tear it down.');
    // Ctrl-C ends the wait and the demo tears down. The other SIGINT listeners stay: tsx's
    // (without it tsx SIGKILLs this process, children left running) and the process helpers'
    // last-resort stopAll; every path ends each process by PID.
    await new Promise<void>((resolve) => {
      // `on`: a second Ctrl-C during teardown must not end the process with children left.
      process.on('SIGINT', () => resolve());
      process.on('SIGTERM', () => resolve());
    });
  } else if (ok) {
    okAll =
      (await stage(`remove ${CLUSTER}`, async () => {
        const s = stack as LocalStack;
        const before = await s.desiredSha();
        const run = await s.cliProcess(['clusters', 'remove', CLUSTER]);
        expect(run.code === 0, `the CLI failed: ${run.stderr.trim()}`);
        await s.waitForConvergence({ not: before, timeoutMs: 60_000 });
        for (const i of s.fleet.inService()) {
          const cfg = readFileSync(join(i.dir, 'etc', 'haproxy.cfg'), 'utf8');
          expect(
            !cfg.includes(`listen aurora-${CLUSTER}`),
            `${i.instanceId} still has the ${CLUSTER} backend`,
          );
          const dbs = readFileSync(join(i.dir, 'etc', 'pgbouncer-databases.ini'), 'utf8');
          expect(
            !new RegExp(`^${ALIAS} =`, 'm').test(dbs),
            `${i.instanceId} still has the ${ALIAS} alias`,
          );
        }
        return `backend and PgBouncer alias gone from every instance`;
      })) && okAll;
  }

  const teardown = await stage('teardown', async () => {
    await stack?.stop();
    return 'every process ended by PID, state removed';
  });
  okAll = okAll && teardown;
  summary(okAll);
  return okAll ? 0 : 1;
}

function summary(okAll: boolean): void {
  if (asJson) {
    process.stdout.write(
      `${JSON.stringify({ ok: okAll, stages: results, measurements }, null, 2)}\n`,
    );
    return;
  }
  out();
  out(bold('Summary'));
  table(
    ['STAGE', 'RESULT', 'TIME'],
    results.map((r) => [r.stage, r.ok ? green('ok') : red('FAILED'), `${r.seconds.toFixed(1)} s`]),
  );
  if (measurements.failoverConvergenceMs !== undefined) {
    out();
    table(
      ['MEASURED', 'VALUE'],
      [
        ['first apply on every instance', `${measurements.firstApplySeconds?.toFixed(2)} s`],
        ['failover: last read on the new writer', `+${measurements.lastReadOnNewWriterMs} ms`],
        ['failover: every instance on the new bundle', `+${measurements.failoverConvergenceMs} ms`],
        ...(measurements.addReaderConvergenceMs !== undefined
          ? [
              ['new reader: every instance applied', `${measurements.addReaderConvergenceMs} ms`],
              ['new reader: UP on every instance', `${measurements.addReaderServingMs} ms`],
            ]
          : []),
      ],
    );
  }
  if (statusMatrix) {
    out();
    out(bold(`$ aurora-haproxy clusters status ${CLUSTER}`));
    for (const line of statusMatrix.trimEnd().split('\n')) out(line);
  }
  out();
  out(
    okAll
      ? green(bold('✔ every stage met its expectation'))
      : red(bold('✘ a stage failed (see above)')),
  );
}

main().then(
  (code) => process.exit(code),
  (error) => {
    out(red(`demo crashed: ${error instanceof Error ? error.stack : String(error)}`));
    process.exit(1);
  },
);
