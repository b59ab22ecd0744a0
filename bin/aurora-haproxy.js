#!/usr/bin/env node
// Launcher of the `aurora-haproxy` CLI (functions/cli/main.ts). It runs the TypeScript source
// through tsx (a devDependency of this repository), so it works from a checkout after
// `npm ci`: `npx aurora-haproxy clusters list --local` or `node bin/aurora-haproxy.js ...`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../functions/cli/main.ts');
process.exitCode = await main();
