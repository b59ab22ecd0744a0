import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BootHarness,
  CLIENT,
  LIFECYCLE_HOOK,
  USERLIST_SECRET,
} from '../../packages/local-stack/boot/boot-harness';
import type { BootHost } from '../../packages/local-stack/boot/boot-host';
import { ENDPOINT_DOMAIN } from '../../packages/local-stack/endpoint-names';
import {
  loadCommandDocument,
  runCommandDocument,
} from '../../packages/local-stack/ssm-document-runner';
import { REPO_ROOT } from '../../packages/local-stack/stack';
import {
  ALIAS,
  activeSince,
  appliedSha,
  bundleServers,
  CLUSTER,
  clientTlsOnHost,
  diagnose,
  eventually,
  eventuallyOnHost,
  expectReadsOnReadersOnly,
  haproxyConfigValid,
  readyStatus,
  runtimeServers,
  SERVICES,
  unitStates,
} from './support';

/**
 * One host's life on a real systemd, in order (each step needs the one before): a fresh boot
 * by the launch template's user data, a reboot, an SSM-delivered apply, an operator's reload,
 * and the daemon's hardening. See packages/local-stack/boot/ and docs/DEPLOY.md (what differs from EC2).
 */
const INSTANCE_ID = 'i-0b0070000000f4e5';
let harness: BootHarness;
let host: BootHost;
let firstSha: string;
let bootMs: number;

describe.sequential('a host booted by user-data.sh under systemd', () => {
  beforeAll(async () => {
    harness = await BootHarness.start((line) => console.log(`[boot] ${line}`));
    const port = await harness.stack.freeClusterPort();
    const add = await harness.stack.cli([
      'clusters',
      'add',
      CLUSTER,
      '--port',
      String(port),
      '--db',
      `${ALIAS}=app`,
    ]);
    expect(add.code, add.stderr).toBe(0);
    firstSha = await harness.desiredSha();
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it('boots fresh: applies the desired bundle, serves through systemd units, CONTINUE once', async () => {
    const t0 = Date.now();
    host = await harness.bootNewHost(INSTANCE_ID);
    const run = await host.runUserData(harness.userData());
    bootMs = Date.now() - t0;
    console.log(`[boot] fresh boot to CONTINUE: ${(bootMs / 1000).toFixed(1)} s`);
    const log = host.readFile('var/log/aurora-haproxy-boot.log');
    expect(run.code, log.slice(-3000)).toBe(0);

    expect(harness.standins.completions).toEqual([
      expect.objectContaining({
        instanceId: INSTANCE_ID,
        result: 'CONTINUE',
        hookName: LIFECYCLE_HOOK,
      }),
    ]);
    expect(await unitStates(host, SERVICES)).toEqual(['active', 'active', 'active']);
    expect(await readyStatus()).toBe(200);
    expect(appliedSha(host)).toBe(firstSha);
    // Applied before anything served: HAProxy started on the bundle's config (no reload since).
    expect(log).toContain(`"sha256":"${firstSha}"`);
    const procs = await host.sh("echo 'show proc' | socat - UNIX-CONNECT:/run/haproxy-master.sock");
    expect(procs).toMatch(/^\d+\s+worker\s+0\s/m);
    // The zone from instance metadata reaches HAProxy's environment and agent.json (azAffinity).
    const zone = harness.standins.instance.availabilityZone;
    const master = (await host.sh('systemctl show -p MainPID --value haproxy')).trim();
    expect(await host.sh(`tr '\\0' '\\n' < /proc/${master}/environ`)).toContain(
      `AURORA_HAPROXY_AZ=${zone}\n`,
    );
    const agentJson = JSON.parse(host.readFile('etc/aurora-haproxy/agent.json'));
    expect(agentJson.haproxy.host.availabilityZone).toBe(zone);
    await expectReadsOnReadersOnly(harness);
    // The DNS path: the bundle lists instance endpoint names (RDS's Endpoint.Address), the
    // host's nameserver setting is the stack's DNS server (HAProxy's resolvers and agent.json),
    // and HAProxy serves the readers by those names, resolved by that server.
    const dns = harness.stack.dns;
    expect(dns, 'the boot stack runs with endpoint names').toBeDefined();
    const servers = bundleServers(host);
    expect(servers.length).toBeGreaterThan(0);
    for (const server of servers)
      expect(server).toMatch(new RegExp(`\\.${ENDPOINT_DOMAIN.replace(/\./g, '\\.')}:\\d+$`));
    expect(agentJson.haproxy.host.nameserver).toBe(dns?.nameserver);
    expect(await host.sh(`tr '\\0' '\\n' < /proc/${master}/environ`)).toContain(
      `AURORA_HAPROXY_NAMESERVER=${dns?.nameserver}\n`,
    );
    expect(await runtimeServers(host)).toEqual(servers);
    const asked = new Set(dns?.queriedNames());
    for (const server of servers) expect(asked).toContain(server.replace(/:\d+$/, ''));
    // Client TLS by default, with a certificate generated at boot (none was named)
    const tls = await clientTlsOnHost(host);
    expect(tls.refusal).toMatch(/SSL required/);
    expect(tls.subject).toContain(`aurora-haproxy ${INSTANCE_ID}`);
    expect(log).toContain(`generated a self-signed one for ${INSTANCE_ID}`);
  });

  it('reboots into the same order and applies a bundle delivered while it was down', async () => {
    await host.poweroff();
    expect(await readyStatus()).toBe(0);
    await harness.stack.addReader(CLUSTER);
    const whileDown = await harness.desiredSha(firstSha);

    await host.boot();
    await eventuallyOnHost(host, 'services active after reboot', async () =>
      (await unitStates(host, SERVICES)).every((s) => s === 'active') ? true : undefined,
    );
    await eventuallyOnHost(host, '/ready 200 after reboot', async () =>
      (await readyStatus()) === 200 ? true : undefined,
    );
    expect(appliedSha(host)).toBe(whileDown);
    const sync = await activeSince(host, 'aurora-haproxy-sync.service');
    const haproxy = await activeSince(host, 'haproxy.service');
    const pgbouncer = await activeSince(host, 'pgbouncer.service');
    expect(sync).toBeGreaterThan(0);
    expect(sync).toBeLessThan(haproxy);
    expect(haproxy).toBeLessThan(pgbouncer);
    // user-data runs once per instance: a reboot completes no lifecycle action.
    expect(harness.standins.completions).toHaveLength(1);
    expect(await runtimeServers(host)).toEqual(bundleServers(host));
    await eventually('reads on the stack readers only', async () => {
      await expectReadsOnReadersOnly(harness);
      return true;
    });
  });

  it('applies a bundle delivered by the real SSM command document on the host', async () => {
    const before = appliedSha(host);
    const removed = harness.stack.cluster(CLUSTER).replicas().at(-1)?.name;
    expect(removed).toBeDefined();
    await harness.stack.removeReader(
      CLUSTER,
      `${CLUSTER}-${Number(removed?.replace('replica', '')) + 1}`,
    );
    const next = await harness.desiredSha(before);
    const document = await loadCommandDocument(join(REPO_ROOT, 'infra/ssm/apply-bundle.yml'));
    const result = await runCommandDocument(document, {
      parameters: { sha256: next },
      interpreter: [join(REPO_ROOT, 'packages/local-stack/boot/run-in-host.sh'), String(host.pid)],
      timeoutMs: 120_000,
    });
    expect(result.status, result.steps[0]?.output).toBe('Success');
    expect(result.steps[0]?.stdout).toContain(`"sha256":"${next}"`);
    expect(appliedSha(host)).toBe(next);
    expect(await haproxyConfigValid(host)).toBe(true);
    expect(await runtimeServers(host)).toEqual(bundleServers(host));
    await expectReadsOnReadersOnly(harness);
  });

  it("survives an operator's `systemctl reload haproxy` with a valid config and the runtime state", async () => {
    const servers = await runtimeServers(host);
    const reload = await host.exec(['systemctl', 'reload', 'haproxy']);
    expect(reload.code, `${reload.stderr}\n${await diagnose(host)}`).toBe(0);
    await eventually('HAProxy reloaded (one more worker generation)', async () => {
      const procs = await host.sh(
        "echo 'show proc' | socat - UNIX-CONNECT:/run/haproxy-master.sock",
      );
      return /^\d+\s+worker\s+[1-9]\d*\s/m.test(procs) ? true : undefined;
    });
    expect(await unitStates(host, SERVICES)).toEqual(['active', 'active', 'active']);
    expect(await haproxyConfigValid(host)).toBe(true);
    expect(await runtimeServers(host)).toEqual(servers);
    expect(await readyStatus()).toBe(200);
    await expectReadsOnReadersOnly(harness);
  });

  it('runs the daemon with the documented protections, and it still does its job', async () => {
    const props = await host.sh(
      'systemctl show aurora-haproxy-agent -p NoNewPrivileges -p ProtectSystem -p ProtectHome -p PrivateTmp -p ReadWritePaths -p ProtectKernelTunables -p ProtectKernelModules -p ProtectControlGroups -p MainPID',
    );
    for (const expected of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'ReadWritePaths=/run/aurora-haproxy',
      'ProtectKernelTunables=yes',
      'ProtectKernelModules=yes',
      'ProtectControlGroups=yes',
    ]) {
      expect(props).toContain(expected);
    }
    const pid = /MainPID=(\d+)/.exec(props)?.[1];
    expect(Number(pid)).toBeGreaterThan(0);
    // Inside the daemon's own mount namespace: the system is read-only, its run dir is not.
    const inDaemon = (script: string) =>
      host.exec(['nsenter', '-t', String(pid), '-m', '-r', '--', '/bin/sh', '-c', script]);
    expect((await inDaemon('touch /etc/aurora-haproxy/probe-write')).code).not.toBe(0);
    expect((await inDaemon('touch /usr/local/lib/aurora-haproxy/probe-write')).code).not.toBe(0);
    // PgBouncer's auth_file directory is writable to it (a rotated userlist is renamed in).
    expect(
      (await inDaemon('touch /etc/pgbouncer/.probe-write && rm /etc/pgbouncer/.probe-write')).code,
    ).toBe(0);
    expect(
      (
        await inDaemon(
          'touch /run/aurora-haproxy/probe-write && rm /run/aurora-haproxy/probe-write',
        )
      ).code,
    ).toBe(0);
    expect(await host.sh(`grep NoNewPrivs /proc/${pid}/status`)).toMatch(/NoNewPrivs:\s+1/);
    // Its job: verdicts for HAProxy's checks (every bundle reader UP through the agent) and /ready.
    const stat = await host.sh(
      "echo 'show stat' | socat - UNIX-CONNECT:/run/aurora-haproxy/admin.sock",
    );
    const readers = bundleServers(host).length;
    const up = stat
      .split('\n')
      .filter((l) => l.includes(CLUSTER) && /,UP,/.test(l) && /,r\d\d,/.test(l));
    expect(up.length).toBe(readers);
    expect(await readyStatus()).toBe(200);
    console.log(`[boot] fresh boot took ${(bootMs / 1000).toFixed(1)} s`);
  });

  it('follows a userlist rotation: the hardened daemon rewrites the auth_file and RELOADs', async () => {
    // Prepare
    const login = async (password: string) => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: 6432,
        user: CLIENT.user,
        password,
        database: ALIAS,
        // TLS, as the host requires (its generated certificate is verified in the fresh boot).
        ssl: { rejectUnauthorized: false },
        connectionTimeoutMillis: 5000,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return 'accepted';
      } catch (error) {
        return `refused: ${errorMessage(error)}`;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    const pgbouncerPid = (await host.sh('systemctl show -p MainPID --value pgbouncer')).trim();

    // Act
    const rotatedAt = Date.now();
    harness.standins.secrets.set(USERLIST_SECRET, `"${CLIENT.user}" "rotated-boot-pw"`);
    await eventually('the new password to log in', async () =>
      (await login('rotated-boot-pw')) === 'accepted' ? true : undefined,
    );
    const pickupMs = Date.now() - rotatedAt;

    // Assess
    expect(await login(CLIENT.password)).toMatch(/authentication failed/);
    expect((await host.sh('systemctl show -p MainPID --value pgbouncer')).trim()).toBe(
      pgbouncerPid,
    );
    expect(await host.sh('stat -c %U:%G:%a /etc/pgbouncer/userlist.txt')).toMatch(
      /^postgres:postgres:640/,
    );
    const journal = await host.sh('journalctl -u aurora-haproxy-agent --no-pager -o cat');
    expect(journal).toContain('secret version in use');
    expect(journal).not.toContain('rotated-boot-pw');
    console.log(`[boot] userlist rotation in use after ${(pickupMs / 1000).toFixed(1)} s`);
  });
});
