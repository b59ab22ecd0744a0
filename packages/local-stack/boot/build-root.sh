#!/usr/bin/env bash
# Build (once) the cached Debian root the boot harness boots with a real systemd as PID 1.
# Usage: packages/local-stack/boot/build-root.sh [suite]   (bookworm by default) -> prints the root's path.
#
# The root is keyed by a hash of suite + package list, built under a lock in a temp dir and
# renamed into place only when complete, so a crashed build never leaves a half root to use.
# Every boot uses it read-only as the lower layer of an overlay (boot-host.ts): it is never
# changed after it is built.
#
# Packages: systemd as init, plus exactly what infra/fleet/user-data.sh apt-get installs, so
# its unchanged `apt-get install` step finds them installed (it still runs `apt-get update`
# against Debian's mirror). The packages' own units are disabled here, as they are on a fresh
# EC2 image where haproxy/pgbouncer are not installed yet: a first boot starts neither
# before user-data.sh does.
set -euo pipefail

suite="${1:-bookworm}"
mirror="${AURORA_HAPROXY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${AURORA_HAPROXY_ROOT_CACHE:-/var/cache/aurora-haproxy}"
# debootstrap resolves no virtual package (awscli needs one): it installs init only, apt the rest.
base="systemd,systemd-sysv,dbus"
# procps: Debian's cloud images have it (priority important; minbase leaves it out), and
# haproxy.service reloads with /bin/kill from it.
packages="haproxy pgbouncer socat curl ca-certificates xz-utils awscli procps"
key="$(printf '%s\n%s\n%s\n%s\n' "$suite" "$base" "$packages" "v2" | sha256sum | cut -c1-12)"
root="${cache}/${suite}-systemd-root-${key}"

[ "$(id -u)" = 0 ] || { echo "build-root.sh: must run as root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-root.sh: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"${cache}/.${suite}.lock"
flock 9
if [ -f "${root}/.aurora-haproxy-root-complete" ]; then
  echo "$root"
  exit 0
fi

work="$(mktemp -d "${cache}/.build-${suite}-XXXXXX")"
chmod 0755 "$work" # the root's "/": services running as other users must traverse it
trap 'umount -R "$work/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "${cache}/debs-${suite}"
debootstrap --variant=minbase --include="$base" --cache-dir="${cache}/debs-${suite}" \
  "$suite" "$work" "$mirror" >&2
cp /etc/resolv.conf "$work/etc/resolv.conf"
mount -t proc proc "$work/proc"
printf '#!/bin/sh\nexit 101\n' > "$work/usr/sbin/policy-rc.d"
chmod 0755 "$work/usr/sbin/policy-rc.d"
# shellcheck disable=SC2086 # a word list
chroot "$work" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  $packages >&2
rm -f "$work/usr/sbin/policy-rc.d"
chroot "$work" apt-get clean
umount "$work/proc"
# Stock services stay off until user-data.sh enables them (as on a fresh image).
chroot "$work" systemctl disable haproxy.service pgbouncer.service >&2 || true
# A container has no consoles to log in on, and no e2scrub use: keep boots quiet and quick.
chroot "$work" systemctl mask getty@tty1.service console-getty.service systemd-logind.service \
  e2scrub_reap.service e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer >&2 || true
echo "aurora-haproxy-boot" > "$work/etc/hostname"
rm -f "$work/etc/machine-id" && : > "$work/etc/machine-id"
touch "$work/.aurora-haproxy-root-complete"
mv "$work" "$root"
trap - EXIT
echo "$root"
