# Boot script of an aurora-haproxy host (Debian 13 or 12, arm64: the official AMIs, see
# docs/DEPLOY.md "Supported and tested versions"). Package names are unversioned, so each
# release installs what it ships (HAProxy 3.0 / 2.6, PgBouncer 1.24 / 1.18, awscli 2 on both);
# Node.js comes from nodejs.org on both. The launch template prepends the settings:
# AWS_REGION TABLE_NAME HOST_REPORTS_TABLE HOST_LOG_GROUP ASG_NAME LIFECYCLE_HOOK ARTIFACT_BUCKET ARTIFACT_KEY
# NODE_VERSION PROBE_CREDENTIALS PROBE_USER USERLIST_SECRET CLIENT_TLS CLIENT_TLS_CERTIFICATE
# (the last two optional: require and none by default; every value checked against a
# strict pattern at deploy time: infra/fleet/deploy-parameters.cjs).
#
# Order matters: nothing serves before the current bundle is applied. The instance sits in
# the Auto Scaling launch hook (Pending:Wait) until this script completes it with CONTINUE,
# after `aurora-haproxy-agent sync` applied the desired bundle and HAProxy and PgBouncer run
# with it; any failure completes it with ABANDON and the group replaces the instance. The
# units from infra/systemd/ keep the same order at every later boot (sync before HAProxy,
# HAProxy before PgBouncer).
set -euo pipefail
exec > >(tee -a /var/log/aurora-haproxy-boot.log | logger -t aurora-haproxy-boot) 2>&1

# Endpoints. The launch template sets none of these: in AWS the public defaults below apply.
# Only the local boot harness (packages/local-stack/boot/) sets them in the settings header, because
# nothing but loopback and Debian's mirror is reachable there (docs/DEPLOY.md lists what differs).
AWS_EC2_METADATA_SERVICE_ENDPOINT="${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}"
NODE_DIST_URL="${NODE_DIST_URL:-https://nodejs.org/dist}"
SSM_AGENT_URL="${SSM_AGENT_URL:-https://s3.${AWS_REGION}.amazonaws.com/amazon-ssm-${AWS_REGION}/latest/debian_arm64/amazon-ssm-agent.deb}"
RDS_CA_URL="${RDS_CA_URL:-https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem}"
CLOUDWATCH_AGENT_URL="${CLOUDWATCH_AGENT_URL:-https://amazoncloudwatch-agent-${AWS_REGION}.s3.${AWS_REGION}.amazonaws.com/debian/arm64/latest/amazon-cloudwatch-agent.deb}"
endpoint_names="AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SECRETS_MANAGER AWS_ENDPOINT_URL_AUTO_SCALING AWS_ENDPOINT_URL_DYNAMODB"
endpoint_env=()
for name in $endpoint_names; do
  if [ -n "${!name:-}" ]; then endpoint_env+=("${name}=${!name}"); fi
done
if [ "${#endpoint_env[@]}" -gt 0 ]; then
  # The SDKs (the agent, in its units and in SSM commands) read these from the environment.
  endpoint_env+=("AWS_EC2_METADATA_SERVICE_ENDPOINT=${AWS_EC2_METADATA_SERVICE_ENDPOINT}")
  export "${endpoint_env[@]}"
  install -d -m 0755 /etc/systemd/system.conf.d
  printf '[Manager]\nDefaultEnvironment=%s\n' "${endpoint_env[*]}" \
    > /etc/systemd/system.conf.d/aurora-haproxy-endpoints.conf
fi
# The AWS CLI of Debian 12 (2.9) reads no AWS_ENDPOINT_URL_* variable: pass them explicitly.
aws_endpoint() { local url="${1:-}"; if [ -n "$url" ]; then echo "--endpoint-url=${url}"; fi; }

imds() {
  local token
  token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}/latest/api/token")
  curl -fsS -H "X-aws-ec2-metadata-token: ${token}" "${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}/latest/meta-data/$1"
}

finish_launch() {
  # shellcheck disable=SC2046 # aws_endpoint prints one word or nothing
  aws $(aws_endpoint "${AWS_ENDPOINT_URL_AUTO_SCALING:-}") autoscaling complete-lifecycle-action --region "$AWS_REGION" \
    --auto-scaling-group-name "$ASG_NAME" --lifecycle-hook-name "$LIFECYCLE_HOOK" \
    --instance-id "$INSTANCE_ID" --lifecycle-action-result "$1" || true
}

INSTANCE_ID=$(imds instance-id)
# From here on every failure ends the launch with ABANDON (never a silent stop).
trap 'echo "boot failed at line $LINENO"; finish_launch ABANDON' ERR
# The instance's ARN: the only key of the host reports table its role may write
# (dynamodb:LeadingKeys = the ec2:SourceInstanceARN policy variable, iam/instance-policy.yml).
PARTITION=$(imds services/partition)
ACCOUNT_ID=$(imds identity-credentials/ec2/info | sed -n 's/.*"AccountId" *: *"\([0-9]\{12\}\)".*/\1/p')
INSTANCE_ARN="arn:${PARTITION}:ec2:${AWS_REGION}:${ACCOUNT_ID}:instance/${INSTANCE_ID}"
# This host's Availability Zone, for clusters with azAffinity: HAProxy reads it as
# AURORA_HAPROXY_AZ (availability-zone.env) and the agent from agent.json. Outside input that
# reaches config files: refused unless it is a zone name.
AVAILABILITY_ZONE=$(imds placement/availability-zone)
if ! [[ "$AVAILABILITY_ZONE" =~ ^[a-z]{2}(-[a-z0-9]+)+$ ]]; then
  echo "instance metadata placement/availability-zone is not a zone name: '${AVAILABILITY_ZONE:0:80}'"
  false
fi

export DEBIAN_FRONTEND=noninteractive
# Debian's packages would start haproxy and pgbouncer with their stock configs: forbid
# service starts during the install; this script starts them itself, in order.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  haproxy pgbouncer socat curl ca-certificates xz-utils awscli >/dev/null
rm -f /usr/sbin/policy-rc.d
systemctl stop haproxy pgbouncer 2>/dev/null || true

# SSM Agent (Run Command delivers bundles); Debian images do not ship it.
curl -fsSLo /tmp/amazon-ssm-agent.deb "$SSM_AGENT_URL"
dpkg -i /tmp/amazon-ssm-agent.deb
systemctl enable --now amazon-ssm-agent

# Node.js for the agent (one bundled file), checked against the release's SHASUMS256; the
# units run /usr/bin/node.
node_tar="node-${NODE_VERSION}-linux-arm64.tar.xz"
curl -fsSLo "/tmp/${node_tar}" "${NODE_DIST_URL}/${NODE_VERSION}/${node_tar}"
curl -fsSLo /tmp/SHASUMS256.txt "${NODE_DIST_URL}/${NODE_VERSION}/SHASUMS256.txt"
(cd /tmp && grep " ${node_tar}\$" SHASUMS256.txt | sha256sum -c -)
tar -xJf "/tmp/${node_tar}" -C /usr/local --strip-components=1 --no-same-owner
ln -sf /usr/local/bin/node /usr/bin/node

# The agent artifact (infra/fleet/build-agent-artifact.sh): agent.mjs, bin/postgresqlchk,
# systemd/ (units, drop-ins, tmpfiles.d) as infra/systemd/ lays them out.
# shellcheck disable=SC2046
aws $(aws_endpoint "${AWS_ENDPOINT_URL_S3:-}") s3 cp --region "$AWS_REGION" "s3://${ARTIFACT_BUCKET}/${ARTIFACT_KEY}" /tmp/agent-artifact.tgz
install -d -m 0755 /opt/aurora-haproxy /etc/aurora-haproxy /usr/local/lib/aurora-haproxy/bin
tar -xzf /tmp/agent-artifact.tgz -C /opt/aurora-haproxy --no-same-owner
install -m 0755 /opt/aurora-haproxy/agent.mjs /usr/local/lib/aurora-haproxy/aurora-haproxy-agent.mjs
install -m 0755 /opt/aurora-haproxy/bin/postgresqlchk /usr/local/lib/aurora-haproxy/bin/postgresqlchk
# Where postgresqlchk asks the daemon: written here because the daemon's unit makes /usr
# read-only to it (ProtectSystem=strict); the daemon finds it right and leaves it. The values
# are agent.json's defaults (checkAddress, checkPort), as in the HAProxy drop-in.
printf 'port=9876\naddress=127.0.0.1\n' > /usr/local/lib/aurora-haproxy/bin/check.conf
cat > /usr/local/bin/aurora-haproxy-agent <<'WRAPPER'
#!/bin/sh
exec /usr/bin/node /usr/local/lib/aurora-haproxy/aurora-haproxy-agent.mjs "$@"
WRAPPER
chmod 0755 /usr/local/bin/aurora-haproxy-agent
install -m 0644 /opt/aurora-haproxy/systemd/tmpfiles.d/aurora-haproxy.conf /etc/tmpfiles.d/aurora-haproxy.conf
systemd-tmpfiles --create /etc/tmpfiles.d/aurora-haproxy.conf
for dropin in haproxy.service.d pgbouncer.service.d; do
  install -d -m 0755 "/etc/systemd/system/${dropin}"
  install -m 0644 "/opt/aurora-haproxy/systemd/${dropin}/aurora-haproxy.conf" "/etc/systemd/system/${dropin}/aurora-haproxy.conf"
done
for unit in /opt/aurora-haproxy/systemd/*.service; do
  install -m 0644 "$unit" /etc/systemd/system/
done
# The DNS server for Aurora endpoint names. Not set in AWS: HAProxy, the agent and the daemon
# use the VPC resolver (resolv.conf). Only the local boot harness sets it (its loopback DNS
# server): agent.json's haproxy.host.nameserver and HAProxy's AURORA_HAPROXY_NAMESERVER.
haproxy_nameserver=''
if [ -n "${NAMESERVER:-}" ]; then
  if ! [[ "$NAMESERVER" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?$ ]]; then
    echo "NAMESERVER '${NAMESERVER}' is not an IPv4 address with an optional :port"
    false
  fi
  case "$NAMESERVER" in *:*) ;; *) NAMESERVER="${NAMESERVER}:53" ;; esac
  printf '[Service]\nEnvironment=AURORA_HAPROXY_NAMESERVER=%s\n' "$NAMESERVER" \
    > /etc/systemd/system/haproxy.service.d/aurora-haproxy-nameserver.conf
  haproxy_nameserver=", \"nameserver\": \"${NAMESERVER}\""
fi

# TLS to Aurora: the RDS CA bundle. Probes verify each reader's certificate against it and
# its instance endpoint name (verify-full); PgBouncer verifies the chain (verify-ca) through
# HAProxy (docs/DESIGN.md "TLS"). A bundle that is not PEM certificates stops the boot here.
curl -fsSLo /etc/aurora-haproxy/rds-ca.pem "$RDS_CA_URL" \
  || { echo "RDS CA bundle cannot be downloaded from ${RDS_CA_URL}"; false; }
if ! grep -q -- '-----BEGIN CERTIFICATE-----' /etc/aurora-haproxy/rds-ca.pem \
  || ! openssl x509 -in /etc/aurora-haproxy/rds-ca.pem -noout 2>/dev/null; then
  echo "RDS CA bundle from ${RDS_CA_URL} holds no PEM certificate"
  false
fi
chmod 0644 /etc/aurora-haproxy/rds-ca.pem

if [ "$PROBE_CREDENTIALS" = iam ]; then
  credentials="{\"mode\":\"iam\",\"region\":\"${AWS_REGION}\"}"
else
  credentials="{\"mode\":\"secret\",\"secretId\":\"${PROBE_CREDENTIALS}\",\"region\":\"${AWS_REGION}\"}"
fi
# The userlist secret, when there is one, is followed by the health daemon (polled every 20 s,
# written to PgBouncer's auth_file and RELOADed: agent/secrets/); the probe secret too.
if [ -n "$USERLIST_SECRET" ]; then
  userlist=", \"userlist\": { \"secretId\": \"${USERLIST_SECRET}\", \"region\": \"${AWS_REGION}\" }"
else
  userlist=''
fi
printf 'AURORA_HAPROXY_AZ=%s\n' "$AVAILABILITY_ZONE" > /etc/aurora-haproxy/availability-zone.env
chmod 0644 /etc/aurora-haproxy/availability-zone.env
cat > /etc/aurora-haproxy/agent.json <<CONFIG
{
  "bundleSource": { "tableName": "${TABLE_NAME}", "region": "${AWS_REGION}" },
  "haproxy": { "host": { "availabilityZone": "${AVAILABILITY_ZONE}"${haproxy_nameserver} } },
  "pgbouncer": { "admin": { "host": "/run/aurora-haproxy/sockets" }${userlist} },
  "health": {
    "user": "${PROBE_USER}",
    "credentials": ${credentials},
    "tls": { "mode": "verify-full", "caBundlePath": "/etc/aurora-haproxy/rds-ca.pem" },
    "statsSocketPath": "/run/aurora-haproxy/admin.sock",
    "readiness": { "address": "0.0.0.0", "port": 9877 }
  },
  "report": {
    "tableName": "${HOST_REPORTS_TABLE}",
    "region": "${AWS_REGION}",
    "instanceArn": "${INSTANCE_ARN}",
    "metrics": { "emfPath": "/var/log/aurora-haproxy/metrics.emf", "fleet": "${ASG_NAME}" }
  }
}
CONFIG
chmod 0644 /etc/aurora-haproxy/agent.json

# Client TLS (docs/DEPLOY.md "Client TLS"): PgBouncer requires TLS from clients unless the
# operator chose CLIENT_TLS=disable. Its certificate is the one CLIENT_TLS_CERTIFICATE names
# (a Secrets Manager secret or SSM SecureString parameter ARN whose value is the PEM chain then
# the PEM key), or, when none is named, one generated here for this host. A named value that
# is missing, holds no certificate or key, a key that does not match, or an expired
# certificate stops the boot naming the parameter; the key is never printed.
CLIENT_TLS="${CLIENT_TLS:-require}"
CLIENT_TLS_CERTIFICATE="${CLIENT_TLS_CERTIFICATE:-}"
client_tls_conf="client_tls_sslmode = disable"
case "$CLIENT_TLS" in
  disable) echo "client TLS disabled by the CLIENT_TLS=disable setting: clients connect in plaintext" ;;
  require)
    install -d -m 0750 -o root -g postgres /etc/pgbouncer/tls
    umask 077
    if [ -n "$CLIENT_TLS_CERTIFICATE" ]; then
      # An SSM parameter ARN, else a Secrets Manager secret (ARN or name).
      case "$CLIENT_TLS_CERTIFICATE" in
        arn:*:ssm:*)
          # shellcheck disable=SC2046
          aws $(aws_endpoint "${AWS_ENDPOINT_URL_SSM:-}") ssm get-parameter --region "$AWS_REGION" --with-decryption \
            --name "$CLIENT_TLS_CERTIFICATE" --query Parameter.Value --output text > /etc/pgbouncer/tls/client.pem \
            || { echo "client TLS certificate ${CLIENT_TLS_CERTIFICATE} cannot be read"; false; } ;;
        *)
          # shellcheck disable=SC2046
          aws $(aws_endpoint "${AWS_ENDPOINT_URL_SECRETS_MANAGER:-}") secretsmanager get-secret-value --region "$AWS_REGION" \
            --secret-id "$CLIENT_TLS_CERTIFICATE" --query SecretString --output text > /etc/pgbouncer/tls/client.pem \
            || { echo "client TLS certificate ${CLIENT_TLS_CERTIFICATE} cannot be read"; false; } ;;
      esac
      if ! openssl x509 -in /etc/pgbouncer/tls/client.pem -out /etc/pgbouncer/tls/client.crt 2>/dev/null \
        || ! openssl pkey -in /etc/pgbouncer/tls/client.pem -out /etc/pgbouncer/tls/client.key 2>/dev/null; then
        echo "client TLS certificate ${CLIENT_TLS_CERTIFICATE} does not hold a PEM certificate followed by its PEM private key"
        false
      fi
      # The whole chain (leaf first) goes to clients; the key must be the leaf's.
      awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/' /etc/pgbouncer/tls/client.pem > /etc/pgbouncer/tls/client.crt
      if [ "$(openssl x509 -in /etc/pgbouncer/tls/client.crt -noout -pubkey)" != "$(openssl pkey -in /etc/pgbouncer/tls/client.key -pubout)" ]; then
        echo "client TLS certificate ${CLIENT_TLS_CERTIFICATE}: the private key does not belong to the (first) certificate"
        false
      fi
      if ! openssl x509 -in /etc/pgbouncer/tls/client.crt -noout -checkend 0 >/dev/null; then
        echo "client TLS certificate ${CLIENT_TLS_CERTIFICATE} has expired"
        false
      fi
      rm -f /etc/pgbouncer/tls/client.pem
    else
      # No certificate named: a self-signed one for this host (clients get encryption; to
      # verify it they must trust this host's certificate: docs/DEPLOY.md "Client TLS").
      host_ip=$(hostname -I 2>/dev/null | awk '{print $1}')
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
        -subj "/CN=aurora-haproxy ${INSTANCE_ID}" \
        -addext "subjectAltName=DNS:${INSTANCE_ID}${host_ip:+,IP:${host_ip}}" \
        -keyout /etc/pgbouncer/tls/client.key -out /etc/pgbouncer/tls/client.crt 2>/dev/null
      echo "client TLS: no certificate named; generated a self-signed one for ${INSTANCE_ID}"
    fi
    umask 022
    chown root:postgres /etc/pgbouncer/tls/client.key /etc/pgbouncer/tls/client.crt
    chmod 0640 /etc/pgbouncer/tls/client.key
    chmod 0644 /etc/pgbouncer/tls/client.crt
    client_tls_conf="client_tls_sslmode = require
client_tls_cert_file = /etc/pgbouncer/tls/client.crt
client_tls_key_file = /etc/pgbouncer/tls/client.key"
    ;;
  *) echo "CLIENT_TLS=${CLIENT_TLS} is neither require nor disable"; false ;;
esac

# PgBouncer: clients from the NLB on 6432; servers are HAProxy's per-cluster TCP listeners on
# 127.0.0.1 (the agent writes the include's host=), over TLS verified against the RDS CA
# bundle: PgBouncer's SSLRequest passes HAProxy's TCP passthrough to the reader. Client
# passwords come from the userlist secret (userlist.txt format, SCRAM verifiers); the admin
# console user the agent RELOADs with is trusted on the unix socket (which needs no TLS, so the
# agent reaches it whatever client TLS requires) and from loopback only.
cat > /etc/pgbouncer/pgbouncer.ini <<'PGBOUNCER'
[databases]
%include /etc/pgbouncer/aurora-haproxy-databases.ini

[pgbouncer]
listen_addr = *
listen_port = 6432
unix_socket_dir = /run/aurora-haproxy/sockets
auth_type = hba
auth_hba_file = /etc/pgbouncer/pg_hba.conf
auth_file = /etc/pgbouncer/userlist.txt
admin_users = pgbouncer
pool_mode = session
max_client_conn = 5000
default_pool_size = 50
; A failed server login (a writer endpoint during a failover) is retried after 0.2 s, not
; PgBouncer's default 15 s; clients wait for a server up to 60 s before they are failed.
server_login_retry = 0.2
query_wait_timeout = 60
server_tls_sslmode = verify-ca
server_tls_ca_file = /etc/aurora-haproxy/rds-ca.pem
ignore_startup_parameters = extra_float_digits
logfile = /var/log/postgresql/pgbouncer.log
pidfile = /run/postgresql/pgbouncer.pid
PGBOUNCER
printf '%s\n' "$client_tls_conf" >> /etc/pgbouncer/pgbouncer.ini
cat > /etc/pgbouncer/pg_hba.conf <<'HBA'
local pgbouncer pgbouncer trust
host pgbouncer pgbouncer 127.0.0.1/32 trust
host all       all       0.0.0.0/0    scram-sha-256
HBA
touch /etc/pgbouncer/aurora-haproxy-databases.ini
# The secrets, read once with the daemon's own parsers (so a boot and a later rotation accept
# the same secrets): the userlist secret becomes the auth_file (the admin console's line first,
# then one canonical "user" "password" line per client; PgBouncer stops at a line it cannot
# parse and locks out every user after it); the probe secret must be JSON {username?, password}.
# A secret that does not parse stops the boot; only its id and the rule it breaks are printed.
if [ -z "$USERLIST_SECRET" ]; then echo '"pgbouncer" ""' > /etc/pgbouncer/userlist.txt; fi
if [ -n "$USERLIST_SECRET" ] || [ "$PROBE_CREDENTIALS" != iam ]; then
  aurora-haproxy-agent secrets-sync
fi
chown postgres:postgres /etc/pgbouncer/userlist.txt /etc/pgbouncer/aurora-haproxy-databases.ini
chmod 0640 /etc/pgbouncer/userlist.txt

# CloudWatch agent: ships the agent's EMF metrics file; CloudWatch Logs turns each line into
# metrics (names and dimensions: agent/report/emf.ts). EMF through the agent, not
# PutMetricData: the daemon makes no CloudWatch call on its sampling path, the agent batches
# and retries, and the figures stay queryable in Logs Insights (cost: docs/DESIGN.md).
curl -fsSLo /tmp/amazon-cloudwatch-agent.deb "$CLOUDWATCH_AGENT_URL"
dpkg -i /tmp/amazon-cloudwatch-agent.deb
cat > /opt/aws/amazon-cloudwatch-agent/etc/aurora-haproxy.json <<CWAGENT
{
  "agent": { "run_as_user": "root" },
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          {
            "file_path": "/var/log/aurora-haproxy/metrics.emf",
            "log_group_name": "${HOST_LOG_GROUP}",
            "log_stream_name": "{instance_id}-metrics"
          }
        ]
      }
    }
  }
}
CWAGENT
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
  -c file:/opt/aws/amazon-cloudwatch-agent/etc/aurora-haproxy.json

# Apply the desired bundle before anything serves, then start the services in unit order.
systemctl daemon-reload
aurora-haproxy-agent sync
systemctl enable aurora-haproxy-sync.service aurora-haproxy-agent.service haproxy pgbouncer
systemctl start aurora-haproxy-sync.service aurora-haproxy-agent.service haproxy
systemctl start pgbouncer

# In service only when HAProxy, PgBouncer and the agent run, PgBouncer accepts connections,
# and the agent's readiness endpoint (what the NLB checks) says a bundle is applied.
for _ in $(seq 1 60); do
  if systemctl is-active --quiet haproxy pgbouncer aurora-haproxy-agent \
    && (exec 3<>/dev/tcp/127.0.0.1/6432) 2>/dev/null \
    && curl -fsS -o /dev/null http://127.0.0.1:9877/ready; then
    finish_launch CONTINUE
    exit 0
  fi
  sleep 2
done
echo "haproxy / pgbouncer / agent readiness did not come up within 120 s"
finish_launch ABANDON
exit 1
