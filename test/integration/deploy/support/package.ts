import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CfnResource {
  Type: string;
  Condition?: string;
  DeletionPolicy?: string;
  Properties?: Record<string, unknown>;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, unknown>;
}

export interface PackagedService {
  dir: string;
  template: CfnTemplate;
  /** Wall time of `serverless package`. */
  packageMs: number;
}

/**
 * `npx serverless package` offline (osls; no AWS credentials, no network) into a fresh
 * temp directory, with the given stage and --param values.
 */
export async function packageService(
  stage: string,
  params: Record<string, string>,
): Promise<PackagedService> {
  const dir = await mkdtemp(join(tmpdir(), 'aurora-haproxy-package-'));
  const args = ['serverless', 'package', '--stage', stage, '--package', dir];
  for (const [name, value] of Object.entries(params)) args.push('--param', `${name}=${value}`);
  const started = Date.now();
  try {
    await run('npx', args, {
      cwd: process.cwd(),
      env: offlineEnv(),
      maxBuffer: 16 * 1024 * 1024,
      timeout: 90_000,
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `serverless package failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
  const packageMs = Date.now() - started;
  const template = JSON.parse(
    await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as CfnTemplate;
  return { dir, template, packageMs };
}

/** This environment without AWS credentials: packaging must not need any. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1' };
  for (const name of Object.keys(env)) {
    if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)$/.test(name))
      delete env[name];
  }
  return env;
}

export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}
