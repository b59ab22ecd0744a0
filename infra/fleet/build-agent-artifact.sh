#!/usr/bin/env bash
# Build the agent artifact a created fleet's hosts download at boot (user-data.sh):
#   agent.mjs            the agent, one bundled ES module (scripts/build-agent.mjs)
#   bin/postgresqlchk    HAProxy's external-check command (thin client of the daemon)
#   systemd/*            units and drop-ins from infra/systemd/ (boot sync, daemon, HAProxy,
#                        PgBouncer)
# Usage: infra/fleet/build-agent-artifact.sh [out.tgz]   (default dist/agent-artifact.tgz)
# Then: aws s3 cp dist/agent-artifact.tgz s3://<agentArtifactBucket>/<agentArtifactKey>
set -euo pipefail
cd "$(dirname "$0")/../.."

out="${1:-dist/agent-artifact.tgz}"
[ -d infra/systemd ] || { echo "infra/systemd/ is missing: no units to ship" >&2; exit 1; }
[ -x agent/postgresqlchk ] || { echo "agent/postgresqlchk is missing or not executable" >&2; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/systemd"
node scripts/build-agent.mjs --outfile "$stage/agent.mjs" >&2
install -m 0755 agent/postgresqlchk "$stage/bin/postgresqlchk"
cp -R infra/systemd/. "$stage/systemd/"

mkdir -p "$(dirname "$out")"
tar -czf "$out" -C "$stage" --owner=0 --group=0 --numeric-owner .
echo "$out ($(wc -c <"$out") bytes)"
