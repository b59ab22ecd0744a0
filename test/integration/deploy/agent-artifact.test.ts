import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * The artifact a created fleet downloads at boot (infra/fleet/build-agent-artifact.sh) holds
 * what the boot script (infra/fleet/user-data.sh) installs and what the units from
 * infra/systemd/ run: checked by building it and reading both.
 */
let work: string;
let entries: string[];
let userData: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aurora-haproxy-artifact-'));
  const artifact = join(work, 'agent-artifact.tgz');
  await run('bash', ['infra/fleet/build-agent-artifact.sh', artifact], { timeout: 60_000 });
  const { stdout } = await run('tar', ['-tzf', artifact]);
  entries = stdout
    .split('\n')
    .map((e) => e.replace(/^\.\//, ''))
    .filter((e) => e && !e.endsWith('/'));
  await run('tar', ['-xzf', artifact, '-C', work]);
  userData = await readFile('infra/fleet/user-data.sh', 'utf8');
}, 90_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the agent artifact', () => {
  it('holds the agent, postgresqlchk and every file of infra/systemd/', async () => {
    const systemd = (await readdir('infra/systemd', { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => `systemd/${relative('infra/systemd', join(e.parentPath, e.name))}`);
    expect(entries.sort()).toEqual(['agent.mjs', 'bin/postgresqlchk', ...systemd].sort());
  });

  it('carries an agent that runs with Node and knows the apply and sync subcommands', async () => {
    const { stdout } = await run(process.execPath, [join(work, 'agent.mjs'), '--help']);
    expect(stdout).toContain('apply');
    expect(stdout).toContain('sync');
  });

  it('is installed where the units run it from', async () => {
    const units = entries.filter((e) => e.endsWith('.service') && e.startsWith('systemd/'));
    expect(units.length).toBeGreaterThanOrEqual(2);
    let agentCommands = 0;
    for (const unit of units) {
      const text = await readFile(join(work, unit), 'utf8');
      for (const [, node, script] of text.matchAll(/^ExecStart=(\S+) (\S+\.mjs)/gm)) {
        // The boot script links Node to the interpreter path and installs the agent there.
        expect(userData, `${unit}: ${node}`).toContain(`ln -sf /usr/local/bin/node ${node}`);
        expect(userData, `${unit}: ${script}`).toContain(`agent.mjs ${script}`);
        agentCommands++;
      }
    }
    expect(agentCommands).toBeGreaterThanOrEqual(2);
  });
});
