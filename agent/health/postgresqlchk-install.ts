import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '@aurora-haproxy/contract/error-message';

/**
 * Put postgresqlchk and its check.conf (the daemon's port) into a host's bin dir, the
 * directory HAProxy's `external-check path` names (AURORA_HAPROXY_BIN_DIR). Used by the
 * local stack and tests (one bin dir per simulated host) and by packaging.
 */
export const POSTGRESQLCHK_SOURCE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'postgresqlchk',
);

export function writeCheckConf(binDir: string, port: number, address = '127.0.0.1'): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`invalid check port ${port}`);
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address))
    throw new Error(`check address ${address} is not loopback`);
  const path = join(binDir, 'check.conf');
  const content = `port=${port}\naddress=${address}\n`;
  // Already right: no write. On a host the daemon runs with ProtectSystem=strict (the bin dir is
  // read-only to it) and user-data.sh installs this file beforehand with the same values.
  if (readIfExists(path) === content) return;
  try {
    writeFileSync(`${path}.tmp`, content, { mode: 0o644 });
    renameSync(`${path}.tmp`, path);
  } catch (cause) {
    throw new Error(
      `cannot write ${path} (port=${port} address=${address}): ${errorMessage(cause)}; ` +
        'on a host its bin dir is read-only to the daemon: install check.conf with these values',
      { cause },
    );
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function installPostgresqlchk(
  binDir: string,
  checkPort: number,
  options: { address?: string; source?: string } = {},
): string {
  mkdirSync(binDir, { recursive: true, mode: 0o755 });
  const target = join(binDir, 'postgresqlchk');
  copyFileSync(options.source ?? POSTGRESQLCHK_SOURCE, `${target}.tmp`);
  chmodSync(`${target}.tmp`, 0o755);
  renameSync(`${target}.tmp`, target);
  writeCheckConf(binDir, checkPort, options.address);
  return target;
}
