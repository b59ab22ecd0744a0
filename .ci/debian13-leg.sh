#!/usr/bin/env bash
# The Debian 13 leg of CI: the integration and e2e projects run against Debian 13's HAProxy,
# PgBouncer, PostgreSQL and Java, in a chroot built with debootstrap from Debian's mirror.
#
#   bash .ci/debian13-leg.sh build   # .ci/setup: build the chroot once per machine (cached)
#   bash .ci/debian13-leg.sh test    # .ci/run: run the projects inside it
#   bash .ci/debian13-leg.sh test test/integration/local   # only some files (vitest filters)
#   bash .ci/debian13-leg.sh bench failover hitless-change apply-latency   # benchmark figures
#
# bench runs test/bench/run.ts inside the chroot, with the same isolation and cleanup as test,
# with BENCH_STACK=debian13: each figure writes test/bench/results/<name>.debian13.json next to
# this machine's <name>.json, and docs/BENCHMARKS.md shows the two stacks side by side. Not
# part of CI (benchmarks are not tests).
#
# Cache: the chroot lives under /var/cache/aurora-haproxy/ (outside the clone), named by a
# hash of what goes into it (suite, mirror, package list, build steps), so a changed package
# list builds a new one and an unchanged one is reused by every run on the machine. It is
# built in a temporary directory under a lock and renamed into place only when complete: a
# build killed half-way is never taken for a cache.
#
# Isolation and cleanup: every mount is made inside a private mount namespace (unshare
# --mount --propagation private), so none is visible outside it and the kernel undoes them
# all when the namespace's last process ends; each one is also unmounted explicitly in
# reverse order. Processes run in a new PID namespace (unshare --pid --fork): ending its
# first process (we hold its PID) makes the kernel end every process started inside, also
# when a test or this script fails. Tests run in a new network namespace whose only
# interface is loopback: nothing they start can listen on or reach another address.
#
# Node is not Debian's: the fleet installs Node from nodejs.org (user-data.sh), as this
# machine does, so the host's node binary is bind-mounted read-only into the chroot. The
# repository and its node_modules are bind-mounted at the same paths as outside, so paths in
# messages are the same on both legs.
set -euo pipefail

SUITE=trixie
MIRROR=${AURORA_HAPROXY_DEBIAN13_MIRROR:-http://deb.debian.org/debian}
CACHE_DIR=${AURORA_HAPROXY_CHROOT_CACHE:-/var/cache/aurora-haproxy}
# Unversioned names: whatever Debian 13 ships (HAProxy 3.0, PgBouncer 1.24, PostgreSQL 17,
# OpenJDK 21 for DynamoDB Local). dnsmasq-base and openssl: the DNS and TLS tests;
# e2fsprogs: chattr, with which the failure-path tests make files unwritable for root.
PACKAGES=(haproxy pgbouncer postgresql postgresql-client socat strace default-jre-headless
  procps iproute2 ca-certificates openssl dnsmasq-base e2fsprogs)
# Bump when the build steps below change (it is part of the cache key).
BUILD_STEPS_VERSION=1
# The integration tests that touch no Debian package (serverless package + cfn-lint, the agent
# artifact's tarball, the SSM document run by dash): identical on both legs, run on the host.
DISTRIBUTION_INDEPENDENT=('test/integration/deploy/**')

REPO=$(cd "$(dirname "$0")/.." && pwd -P)
key=$(printf '%s\n' "$SUITE" "$MIRROR" "${PACKAGES[*]}" "$BUILD_STEPS_VERSION" | sha256sum | cut -c1-12)
ROOT="${CACHE_DIR}/${SUITE}-${key}"

log() { echo "debian13-leg: $*" >&2; }

# --- inside the private namespaces (called by this script itself) -------------------------

mounted=()
mount_in() { # mount_in <mount args...> <target>: mount and remember for the unmount
  mount "$@"
  mounted+=("${*: -1}")
}
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -l "${mounted[i]}" 2>/dev/null || true
  done
  mounted=()
}

# Runs as PID 1 of a new PID namespace, in a private mount namespace.
inner_build() {
  local dir=$1
  trap unmount_all EXIT
  mount_in -t proc proc /proc # this namespace's processes only
  log "debootstrap --variant=minbase ${SUITE} (${MIRROR})"
  debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR" >"${dir}.debootstrap.log" 2>&1 || {
    tail -n 30 "${dir}.debootstrap.log" >&2
    return 1
  }
  mount_in -t proc proc "$dir/proc"
  mount_in --bind /dev "$dir/dev"
  mount_in --bind /dev/pts "$dir/dev/pts"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  # Debian's packages would start PostgreSQL and HAProxy as services and create a "main"
  # cluster: the tests start their own processes, so forbid both.
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod 0755 "$dir/usr/sbin/policy-rc.d"
  mkdir -p "$dir/etc/postgresql-common"
  echo 'create_main_cluster = false' >"$dir/etc/postgresql-common/createcluster.conf"
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
  log "apt-get install ${PACKAGES[*]}"
  chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confold "$@" && apt-get clean' sh "${PACKAGES[@]}" \
    >"${dir}.apt.log" 2>&1 || {
    tail -n 30 "${dir}.apt.log" >&2
    return 1
  }
  # The host's node is bind-mounted over this file at test time.
  touch "$dir/usr/local/bin/node"
  unmount_all
}

# Mounts what a run inside the chroot needs (called in the new namespaces, as PID 1).
mount_for_run() {
  # Loopback only, yet routed like a host: a default route through lo lets a UDP connect()
  # to an outside address succeed as it does on the first leg (HAProxy's resolvers check at
  # start warns otherwise), and whatever is sent that way is dropped (no forwarding here).
  ip link set lo up
  ip route add default dev lo
  mount_in -t proc proc "$ROOT/proc" # this namespace's processes only
  mount_in --bind /dev "$ROOT/dev"
  mount_in --bind /dev/pts "$ROOT/dev/pts"
  mount_in -t tmpfs -o mode=1777,size=50% tmpfs "$ROOT/dev/shm" # PostgreSQL's shared memory
  mount_in -t tmpfs -o mode=1777,size=50% tmpfs "$ROOT/tmp"     # data dirs; gone afterwards
  mount_in -o bind,ro /sys "$ROOT/sys"
  # Name lookups fail at once (nothing answers on loopback :53), as an unknown name does on
  # the first leg, instead of waiting out the timeouts of a nameserver nothing can reach.
  printf 'nameserver 127.0.0.1\n' >"$ROOT/etc/resolv.conf.loopback"
  mount_in -o bind,ro "$ROOT/etc/resolv.conf.loopback" "$ROOT/etc/resolv.conf"
  mount_in -o bind,ro "$(readlink -f "$(command -v node)")" "$ROOT/usr/local/bin/node"
  mkdir -p "$ROOT$REPO"
  mount_in --bind "$REPO" "$ROOT$REPO"
  local modules
  modules=$(readlink -f "$REPO/node_modules")
  if [ "$modules" != "$REPO/node_modules" ]; then # a worktree's node_modules symlink
    mkdir -p "$ROOT$modules"
    mount_in --bind "$modules" "$ROOT$modules" # vite writes its temp files there
  fi
}

# Runs as PID 1 of new PID and network namespaces, in a private mount namespace.
inner_test() {
  local status=0
  trap unmount_all EXIT
  mount_for_run
  local excludes=()
  for pattern in "${DISTRIBUTION_INDEPENDENT[@]}"; do excludes+=(--exclude "$pattern"); done
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 CI="${CI:-true}" TERM=dumb \
    sh -c 'cd "$1" && shift && exec node node_modules/vitest/vitest.mjs run "$@"' sh "$REPO" \
    --project integration --project e2e "${excludes[@]}" \
    --reporter=default --reporter=json --outputFile.json=.tmp/vitest-results-debian13.json "$@" ||
    status=$?
  unmount_all
  return "$status"
}

# Runs as PID 1 of new PID and network namespaces, in a private mount namespace.
# $1: the commit measured (the chroot has no git); the rest: benchmark names.
inner_bench() {
  local status=0 revision=$1
  shift
  trap unmount_all EXIT
  mount_for_run
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb BENCH_STACK=debian13 BENCH_REVISION="$revision" \
    BENCH_COMMAND="bash .ci/debian13-leg.sh bench" ${BENCH_DEDICATED:+BENCH_DEDICATED="$BENCH_DEDICATED"} \
    sh -c 'cd "$1" && shift && exec node --import tsx test/bench/run.ts "$@"' sh "$REPO" "$@" ||
    status=$?
  unmount_all
  return "$status"
}

# --- outside ----------------------------------------------------------------------------

child=
# Ends unshare by its PID: --kill-child then kills the namespace's first process, and with it
# the kernel kills every process in the namespace and drops its mounts. Waits (bounded) until
# no process is left whose root is the chroot.
end_child() {
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -KILL "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
    local left
    for _ in $(seq 1 100); do
      left=$(processes_in_chroot)
      [ -z "$left" ] && break
      sleep 0.1
    done
    [ -z "$left" ] || log "processes still in the chroot after 10 s: ${left}"
  fi
  child=
}
chroot_dir=$ROOT # the one in use (a build uses its temporary directory)
processes_in_chroot() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$chroot_dir" ] && printf '%s ' "${p#/proc/}"
  done
  return 0
}
in_namespaces() { # in_namespaces <unshare options...> -- <inner command...>
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  # exec: the background job is unshare itself, so $! is its PID.
  (exec unshare --mount --propagation private --pid --fork --kill-child "${opts[@]}" \
    bash "$REPO/.ci/debian13-leg.sh" "$@") &
  child=$!
  local status=0
  wait "$child" || status=$?
  child=
  return "$status"
}
trap end_child EXIT
trap 'end_child; exit 130' INT TERM

build() {
  [ "$(id -u)" = 0 ] || { log "must run as root"; return 1; }
  if [ -f "$ROOT/.complete" ]; then
    log "cached chroot ${ROOT}"
    return 0
  fi
  if ! command -v debootstrap >/dev/null; then
    local install=(apt-get install -y -qq --no-install-recommends debootstrap)
    DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null; }
  fi
  mkdir -p "$CACHE_DIR"
  exec 9>"${ROOT}.lock"
  flock 9 # another run building the same chroot: wait for it
  if [ -f "$ROOT/.complete" ]; then
    log "cached chroot ${ROOT} (built by another run)"
    return 0
  fi
  local tmp="${ROOT}.building"
  # A killed build's leftovers (its mounts were private to its namespace; never delete
  # through a mount that is somehow visible here).
  if grep -qF " ${tmp}/" /proc/self/mountinfo; then
    log "something is mounted under ${tmp}: not removing it"
    return 1
  fi
  rm -rf --one-file-system "$tmp" "${tmp}".*.log
  mkdir -p "$tmp"
  chroot_dir=$tmp
  local started=$SECONDS
  in_namespaces -- __inner-build "$tmp"
  touch "$tmp/.complete"
  mv "$tmp" "$ROOT"
  log "built ${ROOT} in $((SECONDS - started)) s"
}

run_tests() {
  [ -f "$ROOT/.complete" ] || { log "no chroot at ${ROOT}: run .ci/setup first"; return 1; }
  mkdir -p "$REPO/.tmp"
  rm -f "$REPO/.tmp/vitest-results-debian13.json"
  local versions
  versions=$(chroot "$ROOT" sh -c 'haproxy -v | head -n1; pgbouncer --version | head -n1;
    ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1' | tr '\n' ' ')
  log "integration + e2e on Debian 13: ${versions}"
  log "not on this leg (no Debian package involved, run on the host): ${DISTRIBUTION_INDEPENDENT[*]}"
  in_namespaces --net -- __inner-test "$@"
}

# The commit measured, as test/bench/lib/machine.ts says it: +changes when tracked files other
# than the benchmarks' own results and report differ from HEAD.
host_revision() {
  local head
  head=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return 0; }
  if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no -- . \
    ':(exclude)test/bench' ':(exclude)docs/BENCHMARKS.md' 2>/dev/null)" ]; then
    echo "${head}+changes"
  else
    echo "$head"
  fi
}

run_bench() {
  [ -f "$ROOT/.complete" ] || { log "no chroot at ${ROOT}: run .ci/setup first"; return 1; }
  local name
  for name in "$@"; do
    [[ "$name" =~ ^[a-z][a-z0-9-]*$ ]] || { log "not a benchmark name: ${name}"; return 64; }
  done
  local versions
  versions=$(chroot "$ROOT" sh -c 'haproxy -v | head -n1; pgbouncer --version | head -n1;
    ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1' | tr '\n' ' ')
  log "benchmarks ${*:-(all)} on Debian 13: ${versions}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  in_namespaces --net -- __inner-bench "$(host_revision)" "$@"
}

# One brace group, parsed whole before it runs (with the exit): editing this file while a
# leg runs cannot make bash read on into the edited text.
{
  case "${1:-}" in
  build) build ;;
  test)
    shift
    run_tests "$@"
    ;;
  __inner-build) inner_build "$2" ;;
  bench)
    shift
    run_bench "$@"
    ;;
  __inner-test)
    shift
    inner_test "$@"
    ;;
  __inner-bench)
    shift
    inner_bench "$@"
    ;;
  *)
    echo "usage: $0 build | test [vitest filters...] | bench [benchmark names...]" >&2
    exit 64
    ;;
  esac
  exit
}
