#!/usr/bin/env node
// Bundle the on-host agent (agent/cli.ts and everything it imports: zod, pg, commander, the
// DynamoDB client) into ONE ES module file runnable by the system Node 20:
//   node scripts/build-agent.mjs [--outfile dist/agent/aurora-haproxy-agent.mjs]
// Prints the output path and size. pg's optional native binding (pg-native) is left out.
import { chmodSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const at = args.indexOf('--outfile');
const outfile = resolve(
  at >= 0 && args[at + 1] ? args[at + 1] : resolve(root, 'dist/agent/aurora-haproxy-agent.mjs'),
);

await build({
  entryPoints: [resolve(root, 'agent/cli.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  external: ['pg-native'],
  // Bundled CommonJS packages (pg, commander) call require() for Node built-ins.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __agentCreateRequire } from 'node:module';\nconst require = __agentCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
const bytes = statSync(outfile).size;
process.stdout.write(`${outfile} ${(bytes / 1024).toFixed(0)} KiB (${bytes} bytes)\n`);
