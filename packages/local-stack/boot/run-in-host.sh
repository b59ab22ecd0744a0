#!/usr/bin/env bash
# Run a script inside a booted harness host as a transient systemd service (as the SSM Agent,
# itself a service there, runs a command document's steps): the host manager's environment,
# root, its own cgroup; stdout/stderr come back here and the exit code is the script's.
# Usage: run-in-host.sh <host systemd pid> <script file on this machine>
set -euo pipefail
pid="$1"
script="$2"
exec nsenter -t "$pid" -m -p -r -w -- systemd-run --quiet --wait --pipe --collect \
  --unit="aurora-haproxy-run-$$" /bin/bash -s < "$script"
