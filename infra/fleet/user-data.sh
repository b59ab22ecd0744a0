# Boot script of an aurora-haproxy host (Debian 12 arm64). The launch template prepends the
# settings: AWS_REGION TABLE_NAME ASG_NAME LIFECYCLE_HOOK ARTIFACT_BUCKET ARTIFACT_KEY
# NODE_VERSION PROBE_CREDENTIALS PROBE_USER.
#
# Order matters: nothing serves before the current bundle is applied. The instance sits in
# the Auto Scaling launch hook (Pending:Wait) until this script completes it with CONTINUE
# after `aurora-haproxy-agent sync` succeeded and the readiness endpoint answers; any
# failure completes it with ABANDON, and the group replaces the instance.
set -euo pipefail
exec > >(tee -a /var/log/aurora-haproxy-boot.log | logger -t aurora-haproxy-boot) 2>&1

imds() {
  local token
  token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
  curl -fsS -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/$1"
}

finish_launch() {
  aws autoscaling complete-lifecycle-action --region "$AWS_REGION" \
    --auto-scaling-group-name "$ASG_NAME" --lifecycle-hook-name "$LIFECYCLE_HOOK" \
    --instance-id "$INSTANCE_ID" --lifecycle-action-result "$1" || true
}

INSTANCE_ID=$(imds instance-id)
trap 'echo "boot failed at line $LINENO"; finish_launch ABANDON' ERR

export DEBIAN_FRONTEND=noninteractive
# Debian's packages would start haproxy and pgbouncer with their stock configs: forbid
# service starts during the install; this script starts them itself, in order.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  haproxy pgbouncer socat curl ca-certificates xz-utils awscli >/dev/null
rm -f /usr/sbin/policy-rc.d

# SSM Agent (Run Command delivers bundles); Debian images do not ship it.
curl -fsSLo /tmp/amazon-ssm-agent.deb \
  "https://s3.${AWS_REGION}.amazonaws.com/amazon-ssm-${AWS_REGION}/latest/debian_arm64/amazon-ssm-agent.deb"
dpkg -i /tmp/amazon-ssm-agent.deb
systemctl enable --now amazon-ssm-agent

# Node.js for the agent (one bundled file), checked against the release's SHASUMS256.
node_tar="node-${NODE_VERSION}-linux-arm64.tar.xz"
curl -fsSLo "/tmp/${node_tar}" "https://nodejs.org/dist/${NODE_VERSION}/${node_tar}"
curl -fsSLo /tmp/SHASUMS256.txt "https://nodejs.org/dist/${NODE_VERSION}/SHASUMS256.txt"
(cd /tmp && grep " ${node_tar}\$" SHASUMS256.txt | sha256sum -c -)
tar -xJf "/tmp/${node_tar}" -C /usr/local --strip-components=1 --no-same-owner

# The agent artifact (infra/fleet/build-agent-artifact.sh): agent bundle, postgresqlchk,
# systemd units.
install -d -m 0755 /opt/aurora-haproxy /etc/aurora-haproxy /var/lib/aurora-haproxy \
  /usr/local/lib/aurora-haproxy/bin
aws s3 cp --region "$AWS_REGION" "s3://${ARTIFACT_BUCKET}/${ARTIFACT_KEY}" /tmp/agent-artifact.tgz
tar -xzf /tmp/agent-artifact.tgz -C /opt/aurora-haproxy --no-same-owner
install -m 0755 /opt/aurora-haproxy/bin/postgresqlchk /usr/local/lib/aurora-haproxy/bin/postgresqlchk
cat > /usr/local/bin/aurora-haproxy-agent <<'WRAPPER'
#!/bin/sh
exec /usr/local/bin/node /opt/aurora-haproxy/agent.mjs "$@"
WRAPPER
chmod 0755 /usr/local/bin/aurora-haproxy-agent
# Units and drop-ins (e.g. haproxy.service.d/) as infra/systemd/ lays them out.
cp -R /opt/aurora-haproxy/systemd/. /etc/systemd/system/

# TLS to Aurora: the RDS CA bundle, so probes run with sslmode verify-full.
curl -fsSLo /etc/aurora-haproxy/rds-ca.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem

if [ "$PROBE_CREDENTIALS" = iam ]; then
  credentials="{\"mode\":\"iam\",\"region\":\"${AWS_REGION}\"}"
else
  credentials="{\"mode\":\"secret\",\"secretId\":\"${PROBE_CREDENTIALS}\",\"region\":\"${AWS_REGION}\"}"
fi
cat > /etc/aurora-haproxy/agent.json <<CONFIG
{
  "bundleSource": { "tableName": "${TABLE_NAME}", "region": "${AWS_REGION}" },
  "health": {
    "user": "${PROBE_USER}",
    "credentials": ${credentials},
    "tls": { "mode": "verify-full", "caBundlePath": "/etc/aurora-haproxy/rds-ca.pem" },
    "statsSocketPath": "/run/aurora-haproxy/admin.sock"
  }
}
CONFIG
chmod 0644 /etc/aurora-haproxy/agent.json

# Fetch and apply the desired bundle before anything serves, then start the services in
# the order the units declare (sync before HAProxy, HAProxy before PgBouncer).
systemctl daemon-reload
aurora-haproxy-agent sync
systemctl enable haproxy pgbouncer
for unit in /opt/aurora-haproxy/systemd/*.service; do
  if [ -f "$unit" ]; then systemctl enable "$(basename "$unit")"; fi
done
systemctl start haproxy pgbouncer
for unit in /opt/aurora-haproxy/systemd/*.service; do
  if [ -f "$unit" ]; then systemctl start "$(basename "$unit")"; fi
done

# Ready means a bundle is applied and the agent says so; only then enter service.
for _ in $(seq 1 60); do
  if curl -fsS -o /dev/null http://127.0.0.1:9877/ready; then
    finish_launch CONTINUE
    exit 0
  fi
  sleep 2
done
echo "readiness endpoint did not answer 200 within 120 s"
finish_launch ABANDON
exit 1
