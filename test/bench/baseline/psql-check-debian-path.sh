#!/bin/bash
# BASELINE (seed-style) variant - the thing this project replaces. Kept only for the benchmarks.
#
# The same check as psql-check.sh, but running the `psql` the seed's script found through
# PATH on Debian: /usr/bin/psql, the postgresql-common Perl wrapper that then execs the
# real psql. Measured as a second baseline row in figure 1.
result=$(/usr/bin/psql -t -h "$3" -p "$4" -U postgres -c 'select pg_is_in_recovery();')
if [ "$result" == " t" ]; then
  exit 0
fi
exit 1
