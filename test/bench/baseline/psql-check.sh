#!/bin/bash
# BASELINE (seed-style) - the thing this project replaces. Kept only for the benchmarks.
#
# HAProxy external-check as the original project shipped it: fork psql for every check,
# open a new database connection, and pass only when the server says it is in recovery.
# HAProxy calls it as: <proxy addr> <proxy port> <server addr> <server port>.
# `psql` is the real binary: the callers put PostgreSQL's bin dir (packages/local-stack/pg-bindir.ts)
# first in PATH (`external-check path`), not Debian's wrapper in /usr/bin.
result=$(psql -t -h "$3" -p "$4" -U postgres -c 'select pg_is_in_recovery();')
if [ "$result" == " t" ]; then
  exit 0
fi
exit 1
