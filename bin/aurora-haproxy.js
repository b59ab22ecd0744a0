#!/usr/bin/env node
// Launcher of the `aurora-haproxy` CLI (functions/cli/main.ts). It runs the TypeScript source
// through tsx (a devDependency of this repository), so it works from a checkout after
// `npm ci`: `node bin/aurora-haproxy.js clusters list --local`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../functions/cli/main.ts');
process.exitCode = await main();
