'use strict';
// Checks every deploy parameter (serverless.yml `params`, overridden with --param) before
// anything is packaged or deployed. The values reach IAM ARNs, security groups and the
// hosts' user data (inside single quotes), so each must match a strict pattern: a bad one
// stops `serverless package|deploy` with an error naming it, and nothing changes.
// serverless.yml resolves `${file(infra/fleet/deploy-parameters.cjs)}`, which calls this.

const PATTERNS = {
  createFleet: /^(?:true|false)$/,
  fleetAsgName: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/,
  fleetTagValue: /^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,254}$/,
  vpcId: /^(?:|vpc-[0-9a-f]{8,17})$/,
  subnetIds: /^(?:|subnet-[0-9a-f]{8,17}(?:,subnet-[0-9a-f]{8,17})*)$/,
  clientCidr: /^(?:\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/,
  auroraSecurityGroupId: /^(?:|sg-[0-9a-f]{8,17})$/,
  auroraCidr: /^(?:\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/,
  auroraPort: /^[1-9]\d{0,4}$/,
  instanceType: /^[a-z][a-z0-9-]*\.[a-z0-9]+$/,
  fleetMinSize: /^\d{1,3}$/,
  fleetMaxSize: /^\d{1,3}$/,
  fleetDesiredSize: /^\d{1,3}$/,
  debianRelease: /^(?:12|13)$/,
  imageId: /^(?:|ami-[0-9a-f]{8,17}|resolve:ssm:\/[A-Za-z0-9_./-]+)$/,
  agentArtifactBucket: /^(?:|[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$/,
  agentArtifactKey: /^[A-Za-z0-9][A-Za-z0-9_./-]{0,511}$/,
  nodeVersion: /^v\d{1,3}\.\d{1,3}\.\d{1,3}$/,
  scheduleRate:
    /^(?:rate\(\d{1,4} (?:minute|minutes|hour|hours|day|days)\)|cron\([0-9A-Za-z*?/,#L -]{1,200}\))$/,
  probeCredentials:
    /^(?:iam|arn:aws[a-z-]*:secretsmanager:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512})$/,
  probeUser: /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/,
  targetHealthCheck: /^(?:agent|pgbouncer)$/,
  pgbouncerUserlistSecretArn:
    /^(?:|arn:aws[a-z-]*:secretsmanager:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512})$/,
  // Client -> PgBouncer TLS: `require` (default) or `disable` (plaintext, only on purpose).
  clientTls: /^(?:require|disable)$/,
  // The certificate PgBouncer presents to clients: the ARN of a Secrets Manager secret or of
  // an SSM parameter (SecureString) whose value is the PEM certificate chain followed by the
  // PEM private key. Empty: each host generates its own at boot.
  clientTlsCertificate:
    /^(?:|arn:aws[a-z-]*:secretsmanager:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}|arn:aws[a-z-]*:ssm:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:parameter\/[A-Za-z0-9/_.-]{1,1011})$/,
  rdsClusterPattern: /^(?:\*|[a-zA-Z][a-zA-Z0-9-]{0,62}\*?)$/,
  reservedPorts: /^[1-9]\d{0,4}(?:,[1-9]\d{0,4})*$/,
  logLevel: /^(?:DEBUG|INFO|WARN|ERROR)$/,
  logRetentionDays:
    /^(?:1|3|5|7|14|30|60|90|120|150|180|365|400|545|731|1096|1827|2192|2557|2922|3288|3653)$/,
  alarmEmail: /^(?:|[^\s@'"\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,})$/,
};

/** Pure: the problems with a set of parameter values (empty when they are fine). */
function deployParameterProblems(values) {
  const problems = [];
  for (const [name, pattern] of Object.entries(PATTERNS)) {
    const value = values[name] === undefined || values[name] === null ? '' : String(values[name]);
    if (!pattern.test(value))
      problems.push(`${name}=${JSON.stringify(value)} does not match ${pattern}`);
  }
  for (const name of ['clientCidr', 'auroraCidr']) {
    const [address = '', bits = ''] = String(values[name] ?? '').split('/');
    if (address.split('.').some((o) => Number(o) > 255) || Number(bits) > 32) {
      problems.push(`${name}=${values[name]} is not an IPv4 CIDR`);
    }
  }
  if (String(values.clientTls) === 'disable' && values.clientTlsCertificate) {
    problems.push('clientTlsCertificate is set but clientTls=disable serves no certificate');
  }
  const ports = [values.auroraPort, ...String(values.reservedPorts ?? '').split(',')].map(Number);
  if (ports.some((p) => !(p >= 1 && p <= 65535))) problems.push('ports must be 1-65535');
  if (String(values.createFleet) === 'true') {
    for (const name of ['vpcId', 'subnetIds', 'agentArtifactBucket']) {
      if (!values[name]) problems.push(`createFleet=true needs ${name}`);
    }
    const min = Number(values.fleetMinSize);
    const max = Number(values.fleetMaxSize);
    const desired = Number(values.fleetDesiredSize);
    if (!(min <= desired && desired <= max && max >= 1)) {
      problems.push('fleet sizes must satisfy fleetMinSize <= fleetDesiredSize <= fleetMaxSize');
    }
  }
  return problems;
}

const NOTHING = 'infra/fleet/no-resources.yml';

/** Debian's public SSM parameter naming the latest official arm64 AMI of a release. */
function debianImageId(release) {
  return `resolve:ssm:/aws/service/debian/release/${release}/latest/arm64`;
}

/**
 * Pure: the optional templates and statements a deploy with these (valid) values includes,
 * and the hosts' image (imageId when given, else the official Debian <debianRelease> AMI).
 * Chosen at package time, so the stack holds only what it deploys: no resource behind a
 * condition that is false, no policy branch that is never taken.
 */
function deploySelections(values) {
  const createFleet = String(values.createFleet) === 'true';
  return {
    fleetTemplate: createFleet ? 'infra/fleet/fleet.yml' : NOTHING,
    auroraIngressTemplate:
      createFleet && values.auroraSecurityGroupId ? 'infra/fleet/aurora-ingress.yml' : NOTHING,
    auroraEgressRule: values.auroraSecurityGroupId
      ? 'infra/fleet/aurora-egress-sg.yml'
      : 'infra/fleet/aurora-egress-cidr.yml',
    probeStatement:
      String(values.probeCredentials) === 'iam' ? 'iam/probe-iam.yml' : 'iam/probe-secret.yml',
    userlistTemplate:
      createFleet && values.pgbouncerUserlistSecretArn ? 'iam/userlist-policy.yml' : NOTHING,
    clientTlsCertificateTemplate:
      createFleet && values.clientTlsCertificate
        ? /:secretsmanager:/.test(String(values.clientTlsCertificate))
          ? 'iam/client-tls-secret-policy.yml'
          : 'iam/client-tls-parameter-policy.yml'
        : NOTHING,
    imageId: values.imageId ? String(values.imageId) : debianImageId(values.debianRelease),
  };
}

module.exports = async ({ resolveVariable }) => {
  const values = {};
  for (const name of Object.keys(PATTERNS)) values[name] = await resolveVariable(`param:${name}`);
  const problems = deployParameterProblems(values);
  if (problems.length > 0) {
    throw new Error(`invalid deploy parameters:\n  - ${problems.join('\n  - ')}`);
  }
  return { checked: true, ...deploySelections(values) };
};
module.exports.deployParameterProblems = deployParameterProblems;
module.exports.deploySelections = deploySelections;
module.exports.PARAMETER_PATTERNS = PATTERNS;
