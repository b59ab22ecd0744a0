import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const { deployParameterProblems, deploySelections } =
  require('../../../infra/fleet/deploy-parameters.cjs') as {
    deployParameterProblems: (values: Record<string, string>) => string[];
    deploySelections: (values: Record<string, string>) => Record<string, string>;
  };

/** The defaults of serverless.yml `params.default`, for stage `prod`. */
const defaults: Record<string, string> = {
  createFleet: 'false',
  fleetAsgName: 'aurora-haproxy-prod-fleet',
  fleetTagValue: 'aurora-haproxy-prod',
  vpcId: '',
  subnetIds: '',
  clientCidr: '10.0.0.0/8',
  auroraSecurityGroupId: '',
  auroraCidr: '10.0.0.0/8',
  auroraPort: '5432',
  instanceType: 't4g.small',
  fleetMinSize: '2',
  fleetMaxSize: '4',
  fleetDesiredSize: '2',
  debianRelease: '13',
  imageId: '',
  agentArtifactBucket: '',
  agentArtifactKey: 'aurora-haproxy/agent-artifact.tgz',
  nodeVersion: 'v22.12.0',
  scheduleRate: 'rate(1 minute)',
  probeCredentials: 'iam',
  probeUser: 'aurora_haproxy_health',
  targetHealthCheck: 'agent',
  pgbouncerUserlistSecretArn: '',
  clientTls: 'require',
  clientTlsCertificate: '',
  rdsClusterPattern: '*',
  reservedPorts: '6432,8404,9876,9877',
  logLevel: 'INFO',
  logRetentionDays: '30',
  alarmEmail: '',
};

const createdFleet = {
  ...defaults,
  createFleet: 'true',
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb',
  agentArtifactBucket: 'example-artifacts',
  probeCredentials: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aurora-probe-AbCdEf',
  alarmEmail: 'oncall@example.com',
  rdsClusterPattern: 'prod-*',
  scheduleRate: 'rate(5 minutes)',
};

describe('deploy parameter checks', () => {
  it('accepts the defaults and a complete created-fleet set', () => {
    expect(deployParameterProblems(defaults)).toEqual([]);
    expect(deployParameterProblems(createdFleet)).toEqual([]);
  });

  it.each([
    ['a quote in a value bound for user data', { probeUser: "x'; reboot; '" }],
    ['a space in the tag value', { fleetTagValue: 'a b' }],
    ['an unknown target health check', { targetHealthCheck: 'http' }],
    ['a userlist that is not a secret ARN', { pgbouncerUserlistSecretArn: 's3://bucket/key' }],
    [
      'a secret ARN with a wildcard',
      { probeCredentials: 'arn:aws:secretsmanager:eu-west-1:*:secret:*' },
    ],
    ['a cluster pattern that is not a prefix', { rdsClusterPattern: 'a*b*' }],
    ['a schedule that is not rate() or cron()', { scheduleRate: 'every minute' }],
    ['an octet above 255', { clientCidr: '10.0.0.300/8' }],
    ['a port above 65535', { reservedPorts: '6432,70000' }],
    ['a retention CloudWatch does not offer', { logRetentionDays: '31' }],
    ['a Debian release the hosts are not tested on', { debianRelease: '11' }],
    ['a Debian release by codename', { debianRelease: 'trixie' }],
    ['an image that is neither an AMI nor an SSM parameter', { imageId: 'debian-13' }],
    ['a client TLS mode PgBouncer would take as optional', { clientTls: 'prefer' }],
    ['a client certificate that is an S3 object', { clientTlsCertificate: 's3://b/cert.pem' }],
    [
      'a client certificate parameter by name, not ARN',
      { clientTlsCertificate: '/aurora-haproxy/client-tls' },
    ],
    [
      'a client certificate with plaintext clients',
      {
        clientTls: 'disable',
        clientTlsCertificate: 'arn:aws:ssm:eu-west-1:123456789012:parameter/aurora/client-tls',
      },
    ],
    ['a malformed subnet list', { createFleet: 'true', subnetIds: 'subnet-1;subnet-2' }],
  ])('rejects %s', (_, change) => {
    expect(deployParameterProblems({ ...createdFleet, ...change })).not.toEqual([]);
  });

  it('names what a created fleet is missing', () => {
    expect(deployParameterProblems({ ...defaults, createFleet: 'true' })).toEqual([
      'createFleet=true needs vpcId',
      'createFleet=true needs subnetIds',
      'createFleet=true needs agentArtifactBucket',
    ]);
    expect(
      deployParameterProblems({ ...createdFleet, fleetMinSize: '3', fleetDesiredSize: '2' }),
    ).toEqual(['fleet sizes must satisfy fleetMinSize <= fleetDesiredSize <= fleetMaxSize']);
  });
});

describe('deploy selections (what the stack includes)', () => {
  it('includes no fleet, ingress or userlist policy for an existing fleet', () => {
    expect(deploySelections(defaults)).toEqual({
      fleetTemplate: 'infra/fleet/no-resources.yml',
      auroraIngressTemplate: 'infra/fleet/no-resources.yml',
      auroraEgressRule: 'infra/fleet/aurora-egress-cidr.yml',
      probeStatement: 'iam/probe-iam.yml',
      userlistTemplate: 'infra/fleet/no-resources.yml',
      clientTlsCertificateTemplate: 'infra/fleet/no-resources.yml',
      imageId: 'resolve:ssm:/aws/service/debian/release/13/latest/arm64',
    });
  });

  it('boots hosts on the official Debian 13 arm64 AMI by default, Debian 12 when asked', () => {
    expect(deploySelections(createdFleet).imageId).toBe(
      'resolve:ssm:/aws/service/debian/release/13/latest/arm64',
    );
    expect(deploySelections({ ...createdFleet, debianRelease: '12' }).imageId).toBe(
      'resolve:ssm:/aws/service/debian/release/12/latest/arm64',
    );
  });

  it('boots hosts on your own image when imageId is given, whatever the release', () => {
    for (const imageId of ['ami-0123456789abcdef0', 'resolve:ssm:/my/golden/arm64']) {
      expect(deploySelections({ ...createdFleet, debianRelease: '12', imageId }).imageId).toBe(
        imageId,
      );
    }
  });

  it('includes the fleet, the Aurora ingress, the secret probe and the userlist policy when asked', () => {
    expect(
      deploySelections({
        ...createdFleet,
        auroraSecurityGroupId: 'sg-0123456789abcdef0',
        pgbouncerUserlistSecretArn: createdFleet.probeCredentials ?? '',
      }),
    ).toEqual({
      fleetTemplate: 'infra/fleet/fleet.yml',
      auroraIngressTemplate: 'infra/fleet/aurora-ingress.yml',
      auroraEgressRule: 'infra/fleet/aurora-egress-sg.yml',
      probeStatement: 'iam/probe-secret.yml',
      userlistTemplate: 'iam/userlist-policy.yml',
      clientTlsCertificateTemplate: 'infra/fleet/no-resources.yml',
      imageId: 'resolve:ssm:/aws/service/debian/release/13/latest/arm64',
    });
  });

  it('lets the hosts read the client TLS certificate from the secret or the parameter named', () => {
    const secret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:client-tls-AbCdEf';
    const parameter = 'arn:aws:ssm:eu-west-1:123456789012:parameter/aurora/client-tls';
    expect(deployParameterProblems({ ...createdFleet, clientTlsCertificate: secret })).toEqual([]);
    expect(deployParameterProblems({ ...createdFleet, clientTlsCertificate: parameter })).toEqual(
      [],
    );
    expect(
      deploySelections({ ...createdFleet, clientTlsCertificate: secret })
        .clientTlsCertificateTemplate,
    ).toBe('iam/client-tls-secret-policy.yml');
    expect(
      deploySelections({ ...createdFleet, clientTlsCertificate: parameter })
        .clientTlsCertificateTemplate,
    ).toBe('iam/client-tls-parameter-policy.yml');
  });
});
