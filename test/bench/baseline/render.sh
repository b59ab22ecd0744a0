#!/bin/bash
# BASELINE (seed-style) - the thing this project replaces. Kept only for the benchmarks.
#
# How the original cron script rebuilt HAProxy config on every host: for each cluster of a
# flat-file registry (lines "<clusterId> <port>"), grep its members out of the topology it
# fetched (lines "<clusterId> <instanceId> <address> <port> <role>"), write one config file
# per cluster from a template with sed, compare it with the live one (the "diff"), and
# concatenate them. Usage: render.sh <registry> <members> <outdir>
set -u
registry=$1 members=$2 out=$3
mkdir -p "$out/conf.d" "$out/new"
template='listen CLUSTER\n    bind 127.0.0.1:PORT\n    balance roundrobin\n    option external-check\n    external-check command /etc/monitor_haproxy/postgresqlchk\n    default-server inter 2s fall 3 rise 2'
changed=0
while read -r cluster port; do
  [ -z "$cluster" ] && continue
  file="$out/new/$cluster.cfg"
  printf "$template\n" | sed -e "s/CLUSTER/$cluster/" -e "s/PORT/$port/" > "$file"
  grep "^$cluster " "$members" | while read -r _ instance address mport _role; do
    echo "    server $instance $address:$mport check" >> "$file"
  done
  if ! cmp -s "$file" "$out/conf.d/$cluster.cfg"; then
    changed=$((changed + 1))
    cp "$file" "$out/conf.d/$cluster.cfg"
  fi
done < "$registry"
cat "$out"/conf.d/*.cfg > "$out/haproxy.cfg"
echo "changed=$changed"
