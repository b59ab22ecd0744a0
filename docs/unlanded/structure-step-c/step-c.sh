#!/usr/bin/env bash
# Step C of issue 14, redoable on any main: infra/local -> packages/local-stack (npm workspace
# @aurora-haproxy/local-stack), git mv + import fixes + path strings. Same depth below the repo
# root, so every '../..' root computation in the moved files stays right.
#   cd <worktree> && bash /work/wt/structure-tools/step-c.sh && npm install && npm run typecheck
set -euo pipefail
tools=$(cd "$(dirname "$0")" && pwd)
node "$tools/move.mjs" . "$tools/step-c.json"
cat > packages/local-stack/package.json <<'JSON'
{
  "name": "@aurora-haproxy/local-stack",
  "version": "0.1.0",
  "description": "The local stand-in for AWS the demo and the tests run: DynamoDB Local, wire-level RDS/SSM/Auto Scaling/Lambda stand-ins, PostgreSQL clusters, the simulated fleet, the boot harness.",
  "license": "GPL-3.0-or-later",
  "private": true,
  "type": "module"
}
JSON
# Path strings (scripts, docs, comments, shell): infra/local/ -> packages/local-stack/
git ls-files -z | xargs -0 grep -lI 'infra/local' -- 2>/dev/null | grep -v '^test/bench/results/' |
  xargs -r sed -i 's#infra/local/#packages/local-stack/#g; s#infra/local\b#packages/local-stack#g'
npx biome check --write . >/dev/null 2>&1 || true # longer paths: line wrapping
git add -A
echo "step-c: moved; now: npm install (workspace link), npm run typecheck, npm run lint"
