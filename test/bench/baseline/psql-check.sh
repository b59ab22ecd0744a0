#!/bin/bash
# BASELINE (seed-style) - the thing this project replaces. Kept only for the benchmarks.
#
# HAProxy external-check as the original project shipped it: fork psql for every check,
# open a new database connection, and pass only when the server says it is in recovery.
# HAProxy calls it as: <proxy addr> <proxy port> <server addr> <server port>.
result=$(/usr/lib/postgresql/15/bin/psql -t -h "$3" -p "$4" -U postgres -c 'select pg_is_in_recovery();')
if [ "$result" == " t" ]; then
  exit 0
fi
exit 1
