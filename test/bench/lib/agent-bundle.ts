import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleAgent } from '../../../packages/local-stack/fleet';
import { REPO_ROOT } from './paths';

/**
 * The agent as it ships (one esbuilt ES module run by the system node), built once per
 * benchmark process with the local stack's own bundler; `[file]` are the arguments after node.
 */
let built: Promise<string[]> | undefined;
const dir = mkdtempSync(join(tmpdir(), 'ah-bench-agent-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

export function agentBundle(): Promise<string[]> {
  built ??= bundleAgent(REPO_ROOT, dir);
  return built;
}
