#!/usr/bin/env bash
# The files a booting host downloads from outside AWS, made from this machine (the boot
# harness serves them from its stand-in, packages/local-stack/boot/boot-standins.ts):
#   node-<version>-linux-arm64.tar.xz + SHASUMS256.txt   this machine's node, laid out as a
#       nodejs.org release (the name keeps user-data.sh's arm64 default; the binary is this
#       machine's architecture), cached under /var/cache/aurora-haproxy by the binary's sha;
#   amazon-ssm-agent.deb   a stand-in package: the unit and binary names of the real one,
#       a process that only waits (Run Command is delivered by the harness, docs/DEPLOY.md);
#   amazon-cloudwatch-agent.deb   a stand-in package with the real one's paths (ctl records).
# Usage: build-downloads.sh <out dir>   -> writes the files there, prints the node version.
set -euo pipefail
out="$1"
cache="${AURORA_HAPROXY_ROOT_CACHE:-/var/cache/aurora-haproxy}"
node_bin="$(readlink -f "$(command -v node)")"
version="$("$node_bin" --version)"
key="$(sha256sum "$node_bin" | cut -c1-12)"
name="node-${version}-linux-arm64"
mkdir -p "$out" "$cache"
exec 9>"${cache}/.node-tarball.lock"
flock 9
cached="${cache}/${name}-${key}.tar.xz"
if [ ! -f "$cached" ]; then
  stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' EXIT
  install -D -m 0755 "$node_bin" "${stage}/${name}/bin/node"
  tar -C "$stage" -cf - "$name" | xz -1 -T0 > "${cached}.part"
  mv "${cached}.part" "$cached"
fi
cp "$cached" "${out}/${name}.tar.xz"
(cd "$out" && sha256sum "${name}.tar.xz" > SHASUMS256.txt)

# The control file of a stand-in package: the real package's name, a version marked as ours.
standin_control() { # <package root> <package> <version> <what it stands in for>
  cat > "$1/DEBIAN/control" <<CONTROL
Package: $2
Version: $3
Architecture: all
Maintainer: aurora-haproxy boot harness <nobody@localhost>
Description: stand-in for the $4 (boot harness only)
CONTROL
}

deb="$(mktemp -d)"
mkdir -p "${deb}/DEBIAN" "${deb}/usr/bin" "${deb}/lib/systemd/system"
standin_control "$deb" amazon-ssm-agent 3.3.0.0-aurora-haproxy-standin "SSM Agent"
printf '#!/bin/sh\n# Stand-in: the boot harness delivers Run Command itself.\nexec sleep infinity\n' > "${deb}/usr/bin/amazon-ssm-agent"
chmod 0755 "${deb}/usr/bin/amazon-ssm-agent"
cat > "${deb}/lib/systemd/system/amazon-ssm-agent.service" <<UNIT
[Unit]
Description=amazon-ssm-agent (boot harness stand-in)
After=network-online.target

[Service]
ExecStart=/usr/bin/amazon-ssm-agent
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
dpkg-deb --root-owner-group -b "$deb" "${out}/amazon-ssm-agent.deb" >/dev/null
rm -rf "$deb"

# The CloudWatch agent: the real package's paths; its ctl records the call and ships nothing
# (there is no CloudWatch here; the EMF file it would ship is asserted by the e2e tests).
deb="$(mktemp -d)"
ctl="${deb}/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
mkdir -p "${deb}/DEBIAN" "$(dirname "$ctl")" "${deb}/opt/aws/amazon-cloudwatch-agent/etc"
standin_control "$deb" amazon-cloudwatch-agent 1.300000.0-aurora-haproxy-standin "CloudWatch agent"
printf '#!/bin/sh\n# Stand-in: records how it was called.\necho "$*" >> /var/log/amazon-cloudwatch-agent-ctl.calls\n' > "$ctl"
chmod 0755 "$ctl"
dpkg-deb --root-owner-group -b "$deb" "${out}/amazon-cloudwatch-agent.deb" >/dev/null
rm -rf "$deb"
echo "$version"
