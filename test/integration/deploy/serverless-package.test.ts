import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_HOST_PORTS, DEFAULT_RESERVED_PORTS } from '@aurora-haproxy/contract/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { AgentConfigSchema, haproxyRunFiles } from '../../../agent/config';
import { HOST_METRICS } from '../../../agent/report/emf';
import { DELIVERY_METRICS } from '../../../functions/delivery/deliver';
import { parseTrigger } from '../../../functions/events/parse-trigger';
import {
  CLUSTER_LOOK_AGAIN_EVENTS,
  INSTANCE_LOOK_AGAIN_EVENTS,
  LOOK_AGAIN_CATEGORIES,
} from '../../../functions/events/rds-event-ids';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../../functions/shared/observability';
import { TOPOLOGY_METRICS } from '../../../functions/topology/fetch-topologies';
import { parseCommandDocument } from '../../../packages/local-stack/ssm-document-runner';
import { type EventPattern, matchesPattern } from '../../unit/deploy/support/event-pattern';
import {
  arnText,
  collectStatements,
  iamViolations,
  UNSCOPED_ACTIONS,
  unexpectedManagedPolicies,
} from '../../unit/deploy/support/iam-rules';
import { medianColdInit } from './support/cold-init';
import {
  type CfnResource,
  type PackagedService,
  packageService,
  resourcesOfType,
} from './support/package';
import { extractZipEntry, listZipEntries } from './support/zip';

const run = promisify(execFile);

/**
 * `npx serverless package` offline, twice: an existing fleet with IAM-auth probes (all
 * defaults), and a created fleet with Secrets Manager probes and a slower schedule. The
 * generated CloudFormation is then checked against what the design requires.
 */
const STAGE = 'test';
const FLEET = 'aurora-haproxy-test-fleet';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aurora-probe-AbCdEf';
const USERLIST_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pgb-userlist-AbCdEf';
const FUNCTIONS = ['reconcile', 'admin'] as const;
const FIXTURES = 'test/fixtures/rds-events';

let existingFleet: PackagedService;
let createdFleet: PackagedService;
let extractDir: string;

beforeAll(async () => {
  existingFleet = await packageService(STAGE, {});
  createdFleet = await packageService(STAGE, {
    createFleet: 'true',
    vpcId: 'vpc-0123456789abcdef0',
    subnetIds: 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb',
    agentArtifactBucket: 'example-artifacts',
    auroraSecurityGroupId: 'sg-0123456789abcdef0',
    probeCredentials: SECRET_ARN,
    scheduleRate: 'rate(5 minutes)',
    alarmEmail: 'ops@example.com',
    pgbouncerUserlistSecretArn: USERLIST_ARN,
  });
  extractDir = await mkdtemp(join(tmpdir(), 'aurora-haproxy-bundles-'));
  // Two `serverless package` runs, each allowed 90 s.
}, 300_000);

afterAll(async () => {
  for (const dir of [existingFleet?.dir, createdFleet?.dir, extractDir]) {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

function fn(pkg: PackagedService, name: (typeof FUNCTIONS)[number]): CfnResource {
  const id = `${name[0]?.toUpperCase()}${name.slice(1)}LambdaFunction`;
  const resource = pkg.template.Resources[id];
  if (!resource) throw new Error(`no ${id} in the template`);
  return resource;
}

/** A resource's properties: CloudFormation JSON, walked freely by the assertions. */
// biome-ignore lint/suspicious/noExplicitAny: untyped CloudFormation JSON, checked by the assertions themselves
type Props = Record<string, any>;

function props(resource: CfnResource | undefined): Props {
  return (resource?.Properties ?? {}) as Props;
}

describe('serverless package (offline, osls + serverless-esbuild)', () => {
  it('defines reconcile and admin on nodejs22.x arm64, each with its own role', () => {
    for (const name of FUNCTIONS) {
      const p = props(fn(existingFleet, name));
      expect(p.Runtime).toBe('nodejs22.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Handler).toBe(`functions/handlers/${name}.handler`);
      expect(p.FunctionName).toBe(`aurora-haproxy-${STAGE}-${name}`);
      expect(p.Role).toEqual({
        'Fn::GetAtt': [`${name[0]?.toUpperCase()}${name.slice(1)}Role`, 'Arn'],
      });
    }
    expect(existingFleet.template.Resources.IamRoleLambdaExecution).toBeUndefined();
  });

  it('gives both functions the agreed environment', () => {
    for (const name of FUNCTIONS) {
      const env = props(fn(existingFleet, name)).Environment.Variables;
      expect(env.TABLE_NAME).toEqual({ Ref: 'RegistryTable' });
      expect(env.SSM_DOCUMENT_NAME).toEqual({ Ref: 'ApplyBundleDocument' });
      expect(env.FLEET_ASG_NAME).toBe(FLEET);
      expect(env.RECONCILE_FUNCTION_NAME).toBe(props(fn(existingFleet, 'reconcile')).FunctionName);
      expect(env.RESERVED_PORTS.split(',').map(Number)).toEqual([...DEFAULT_RESERVED_PORTS]);
      expect(env.LOG_LEVEL).toBe('INFO');
    }
  });

  it('packages each handler with its chunks (templates precompiled in), and it loads cold and exports a handler', async () => {
    const report: Record<string, { zipBytes: number; initMs: number; samplesMs: number[] }> = {};
    for (const name of FUNCTIONS) {
      // Prepare: the function's own zip, as Lambda would receive it.
      const zipPath = join(existingFleet.dir, `${name}.zip`);
      const zip = await readFile(zipPath);
      const entries = listZipEntries(zip);
      const handlerFile = `functions/handlers/${name}.mjs`;
      const entry = entries.find((e) => e.name === handlerFile);
      expect(entry, `${handlerFile} in ${name}.zip`).toBeDefined();
      // AWS SDK clients are bundled: no node_modules are shipped or needed.
      expect(entries.filter((e) => e.name.includes('node_modules/'))).toEqual([]);
      // The render's templates are precompiled into the bundle: no .hbs is shipped or read.
      expect(entries.filter((e) => e.name.startsWith('templates/'))).toEqual([]);
      // Code splitting: the chunks the handler imports are in the zip (the whole zip is
      // extracted, as Lambda does).
      expect(entries.some((e) => /^functions\/handlers\/chunks\/.+\.mjs$/.test(e.name))).toBe(true);
      for (const file of entries) {
        if (file.name.endsWith('/')) continue;
        const target = join(extractDir, name, file.name);
        mkdirSync(dirname(target), { recursive: true });
        await writeFile(target, extractZipEntry(zip, file));
      }
      const modulePath = join(extractDir, name, handlerFile);
      // Act: import it in fresh processes, outside the repo (no node_modules above it).
      const init = await medianColdInit(modulePath, lambdaEnv(name), 3);
      // Assess
      expect(init.handlerType).toBe('function');
      report[name] = {
        zipBytes: (await stat(zipPath)).size,
        initMs: Math.round(init.initMs),
        samplesMs: init.samplesMs.map(Math.round),
      };
    }
    console.log(
      `[deploy] package ${existingFleet.packageMs} ms; bundles: ${JSON.stringify(report)}`,
    );
  });

  it('serializes reconcile (reserved concurrency 1) and dead-letters its failed async invokes', () => {
    expect(props(fn(existingFleet, 'reconcile')).ReservedConcurrentExecutions).toBe(1);
    const [[, config] = []] = resourcesOfType(
      existingFleet.template,
      'AWS::Lambda::EventInvokeConfig',
    );
    expect(props(config).FunctionName).toEqual({ Ref: 'ReconcileLambdaFunction' });
    expect(props(config).DestinationConfig.OnFailure.Destination).toEqual({
      'Fn::GetAtt': ['FailedInvocationsQueue', 'Arn'],
    });
    expect(props(config).MaximumRetryAttempts).toBeLessThanOrEqual(2);
  });

  it('refuses a bad parameter before building anything, naming it', async () => {
    await expect(
      packageService(STAGE, { createFleet: 'true', probeUser: "x'; reboot; '" }),
    ).rejects.toThrow(
      /invalid deploy parameters[\s\S]*probeUser[\s\S]*createFleet=true needs vpcId/,
    );
  });

  it('keeps logs for the configured retention', () => {
    const groups = resourcesOfType(existingFleet.template, 'AWS::Logs::LogGroup');
    expect(groups.map(([id]) => id).sort()).toEqual([
      'AdminLogGroup',
      'HostLogGroup',
      'ReconcileLogGroup',
    ]);
    for (const [, group] of groups) expect(props(group).RetentionInDays).toBe(30);
  });
});

describe('EventBridge rules', () => {
  function reconcileRules(pkg: PackagedService) {
    return resourcesOfType(pkg.template, 'AWS::Events::Rule').filter(([, rule]) =>
      props(rule).Targets.some(
        (t: { Arn: unknown }) =>
          JSON.stringify(t.Arn) ===
          JSON.stringify({ 'Fn::GetAtt': ['ReconcileLambdaFunction', 'Arn'] }),
      ),
    );
  }

  function eventIdsOf(pkg: PackagedService, detailType: string): string[] {
    const rule = reconcileRules(pkg).find(
      ([, r]) =>
        props(r).EventPattern?.['detail-type']?.includes(detailType) &&
        !props(r).EventPattern?.detail?.EventCategories,
    );
    return [...(props(rule?.[1]).EventPattern?.detail?.EventID ?? [])].sort();
  }

  it('filter on exactly the RDS event IDs the orchestrator reacts to, per detail-type', () => {
    expect(eventIdsOf(existingFleet, 'RDS DB Cluster Event')).toEqual(
      Object.keys(CLUSTER_LOOK_AGAIN_EVENTS).sort(),
    );
    expect(eventIdsOf(existingFleet, 'RDS DB Instance Event')).toEqual(
      Object.keys(INSTANCE_LOOK_AGAIN_EVENTS).sort(),
    );
  });

  it('route events by category too, excluding the IDs the ID rules already route', () => {
    for (const [detailType, listed] of [
      ['RDS DB Cluster Event', CLUSTER_LOOK_AGAIN_EVENTS],
      ['RDS DB Instance Event', INSTANCE_LOOK_AGAIN_EVENTS],
    ] as const) {
      const rule = reconcileRules(existingFleet).find(
        ([, r]) =>
          props(r).EventPattern?.['detail-type']?.includes(detailType) &&
          props(r).EventPattern?.detail?.EventCategories,
      );
      const detail = props(rule?.[1]).EventPattern?.detail;
      expect([...detail.EventCategories].sort(), detailType).toEqual(
        [...LOOK_AGAIN_CATEGORIES].sort(),
      );
      expect([...detail.EventID[0]['anything-but']].sort(), detailType).toEqual(
        Object.keys(listed).sort(),
      );
    }
  });

  it('route the sample events that matter to reconcile, and no others; reconcile accepts what they route', async () => {
    // Prepare
    const manifest = JSON.parse(await readFile(join(FIXTURES, 'manifest.json'), 'utf8')) as {
      events: { file: string; triggersReconcile: boolean }[];
    };
    expect(manifest.events.length).toBeGreaterThanOrEqual(20);
    const rules = reconcileRules(existingFleet).filter(([, r]) => props(r).EventPattern);
    expect(rules).toHaveLength(5);
    for (const { file, triggersReconcile } of manifest.events) {
      const event = JSON.parse(await readFile(join(FIXTURES, file), 'utf8'));
      // Act
      const matching = rules.filter(([, r]) =>
        matchesPattern(props(r).EventPattern as EventPattern, event),
      );
      // Assess: routed or not, and never twice (an ID rule and a category rule exclude each other)
      expect(matching.length > 0, file).toBe(triggersReconcile);
      expect(matching.length, file).toBeLessThanOrEqual(1);
      for (const [, rule] of matching) {
        const target = props(rule).Targets[0];
        const delivered = target.Input ? JSON.parse(target.Input) : event;
        expect(() => parseTrigger(delivered), file).not.toThrow();
      }
    }
  });

  it('run reconcile on the schedule parameter (default every minute) and retry into the DLQ', () => {
    const scheduleOf = (pkg: PackagedService) =>
      reconcileRules(pkg)
        .map(([, r]) => props(r).ScheduleExpression)
        .filter(Boolean);
    expect(scheduleOf(existingFleet)).toEqual(['rate(1 minute)']);
    expect(scheduleOf(createdFleet)).toEqual(['rate(5 minutes)']);
    for (const [, rule] of reconcileRules(existingFleet).filter(([, r]) => props(r).EventPattern)) {
      const target = props(rule).Targets[0];
      expect(target.DeadLetterConfig.Arn).toEqual({
        'Fn::GetAtt': ['FailedInvocationsQueue', 'Arn'],
      });
      expect(target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
    }
  });
});

describe('IAM', () => {
  it.each([
    ['existing fleet, IAM-auth probes', () => existingFleet],
    ['created fleet, secret probes', () => createdFleet],
  ])('every statement obeys the rules (%s)', (_, pkg) => {
    const statements = collectStatements(pkg().template);
    expect(statements.length).toBeGreaterThan(10);
    expect(iamViolations(statements)).toEqual([]);
    expect(unexpectedManagedPolicies(pkg().template.Resources)).toEqual([]);
  });

  it('names in iam/README.md every action allowed on Resource "*"', async () => {
    const readme = await readFile('iam/README.md', 'utf8');
    const starActions = collectStatements(createdFleet.template)
      .filter(
        ({ statement }) =>
          statement.Resource === '*' ||
          (Array.isArray(statement.Resource) && statement.Resource.includes('*')),
      )
      .flatMap(({ statement }) => [statement.Action].flat() as string[]);
    expect(starActions.length).toBeGreaterThan(0);
    for (const action of new Set(starActions)) {
      expect(UNSCOPED_ACTIONS.has(action)).toBe(true);
      expect(readme, action).toContain(action);
    }
  });

  it('sends commands only with the project document, and to instances only with the fleet tag', () => {
    const sends = collectStatements(existingFleet.template).filter(({ statement }) =>
      [statement.Action].flat().includes('ssm:SendCommand'),
    );
    const targets = sends.flatMap(({ statement }) => [statement.Resource].flat().map(arnText));
    expect(targets.sort()).toEqual([
      `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:instance/*`,
      `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:document/aurora-haproxy-${STAGE}-apply-bundle`,
    ]);
    const toInstances = sends.find(({ statement }) =>
      JSON.stringify(statement).includes(':instance/'),
    );
    expect(toInstances?.statement.Condition).toEqual({
      StringEquals: { 'ssm:resourceTag/aurora-haproxy-fleet': `aurora-haproxy-${STAGE}` },
    });
    expect(props(createdFleet.template.Resources.FleetAutoScalingGroup).Tags).toContainEqual({
      Key: 'aurora-haproxy-fleet',
      Value: `aurora-haproxy-${STAGE}`,
      PropagateAtLaunch: true,
    });
  });

  it('lets hosts read only the desired pointer and bundles, and write only their own report', () => {
    const host = collectStatements(existingFleet.template).filter(
      ({ where, statement }) =>
        where === 'InstancePolicy' && JSON.stringify(statement.Action).includes('dynamodb:'),
    );
    expect(host).toHaveLength(2);
    const [read, write] = host;
    expect(read?.statement.Action).toEqual(['dynamodb:GetItem']);
    expect(read?.statement.Resource).toEqual([{ 'Fn::GetAtt': ['RegistryTable', 'Arn'] }]);
    expect(read?.statement.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['BUNDLE#*', 'DESIRED'] },
    });
    // PutItem of the host reports table, only where the key is the caller's instance ARN.
    expect(write?.statement.Action).toEqual(['dynamodb:PutItem']);
    expect(write?.statement.Resource).toEqual([{ 'Fn::GetAtt': ['HostReportsTable', 'Arn'] }]);
    const keys = write?.statement.Condition?.['ForAllValues:StringEquals']?.[
      'dynamodb:LeadingKeys'
    ] as unknown[];
    expect(Object.keys(write?.statement.Condition ?? {})).toEqual(['ForAllValues:StringEquals']);
    expect(keys).toHaveLength(1);
    // Joined in the template so serverless does not resolve it; CloudFormation joins it back.
    const joined = (keys[0] as { 'Fn::Join': [string, string[]] })['Fn::Join'];
    expect(joined[1].join(joined[0])).toBe(`\${ec2:SourceInstanceARN}`);
    // The admin function reads them (Scan) and writes none.
    const reports = collectStatements(existingFleet.template).filter(({ statement }) =>
      JSON.stringify(statement.Resource).includes('HostReportsTable'),
    );
    expect(reports.map((r) => [r.where, r.statement.Action])).toEqual([
      ['AdminRole/admin', ['dynamodb:Scan']],
      ['InstancePolicy', ['dynamodb:PutItem']],
    ]);
  });

  it('picks the probe credentials the parameter says', () => {
    const actionsOf = (pkg: PackagedService) =>
      collectStatements(pkg.template)
        .filter(({ where }) => where === 'InstancePolicy')
        .flatMap(({ statement }) => [statement.Action].flat());
    expect(actionsOf(existingFleet)).toContain('rds-db:connect');
    expect(actionsOf(existingFleet)).not.toContain('secretsmanager:GetSecretValue');
    expect(actionsOf(createdFleet)).toContain('secretsmanager:GetSecretValue');
    expect(actionsOf(createdFleet)).not.toContain('rds-db:connect');
  });

  it('lets admin invoke reconcile and nothing else', () => {
    const invokes = collectStatements(existingFleet.template).filter(({ statement }) =>
      [statement.Action].flat().includes('lambda:InvokeFunction'),
    );
    expect(invokes.map((s) => s.where)).toEqual(['AdminRole/admin']);
    expect([invokes[0]?.statement.Resource].flat().map(arnText)).toEqual([
      `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:aurora-haproxy-${STAGE}-reconcile`,
    ]);
  });
});

describe('resources', () => {
  it('creates the table from infra/table.json: on-demand, point-in-time recovery, retained', async () => {
    const table = existingFleet.template.Resources.RegistryTable;
    const definition = JSON.parse(await readFile('infra/table.json', 'utf8'));
    expect(props(table)).toEqual(definition);
    expect(props(table).BillingMode).toBe('PAY_PER_REQUEST');
    expect(props(table).PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: true,
    });
    expect(table?.DeletionPolicy).toBe('Retain');
  });

  it('creates the host reports table from infra/host-reports-table.json, expiring by TTL', async () => {
    const table = existingFleet.template.Resources.HostReportsTable;
    const definition = JSON.parse(await readFile('infra/host-reports-table.json', 'utf8'));
    expect(props(table)).toEqual(definition);
    expect(props(table).KeySchema).toEqual([{ AttributeName: 'host', KeyType: 'HASH' }]);
    expect(props(table).TimeToLiveSpecification).toEqual({
      AttributeName: 'expiresAt',
      Enabled: true,
    });
  });

  it('creates the SSM command document from infra/ssm/apply-bundle.yml, every parameter with an allowedPattern', async () => {
    const document = props(existingFleet.template.Resources.ApplyBundleDocument);
    expect(document.DocumentType).toBe('Command');
    expect(document.Name).toBe(`aurora-haproxy-${STAGE}-apply-bundle`);
    expect(document.Content).toEqual(
      parseYaml(await readFile('infra/ssm/apply-bundle.yml', 'utf8')),
    );
    const parsed = parseCommandDocument(JSON.stringify(document.Content));
    expect(Object.keys(parsed.parameters)).toEqual(['sha256']);
    for (const parameter of Object.values(parsed.parameters))
      expect(parameter.allowedPattern).toBeTruthy();
  });

  it('alarms on reconcile errors, on drift and stale topologies with the metrics reconcile emits', () => {
    const alarms = Object.fromEntries(
      resourcesOfType(existingFleet.template, 'AWS::CloudWatch::Alarm').map(([id, a]) => [
        id,
        props(a),
      ]),
    );
    expect(alarms.ReconcileErrorsAlarm?.MetricName).toBe('Errors');
    expect(alarms.ReconcileErrorsAlarm?.Dimensions).toEqual([
      { Name: 'FunctionName', Value: `aurora-haproxy-${STAGE}-reconcile` },
    ]);
    for (const [id, metric] of [
      ['DriftAlarm', DELIVERY_METRICS.redelivered],
      ['StaleTopologyAlarm', TOPOLOGY_METRICS.fault],
    ] as const) {
      expect(alarms[id]?.Namespace).toBe(METRICS_NAMESPACE);
      expect(alarms[id]?.MetricName).toBe(metric);
      expect(alarms[id]?.Dimensions).toEqual([{ Name: 'service', Value: SERVICE_NAME }]);
    }
    for (const alarm of Object.values(alarms))
      expect(alarm.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('alarms when a cluster has no reader UP on some host, with the metric the hosts emit', () => {
    const alarm = props(existingFleet.template.Resources.NoReaderUpAlarm);
    expect(alarm).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: HOST_METRICS.clustersWithoutReaderUp,
      Dimensions: [{ Name: 'Fleet', Value: FLEET }],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('has a dashboard of readers UP, imbalance, drift, reconcile runs, stale topologies and delivery failures', () => {
    // Prepare: the body as CloudFormation would substitute it
    const body = props(existingFleet.template.Resources.OperationsDashboard).DashboardBody[
      'Fn::Sub'
    ] as string;
    const dashboard = JSON.parse(body.replaceAll(`\${AWS::Region}`, 'eu-west-1')) as {
      widgets: { properties: { title: string; metrics: unknown[] } }[];
    };
    const text = JSON.stringify(dashboard);
    // Assess: every panel the issue asks for, and only metric names that are emitted
    const titles = dashboard.widgets.map((w) => w.properties.title).join(' | ');
    for (const panel of [
      /Readers UP/,
      /imbalance/i,
      /Drift/,
      /Reconcile runs/,
      /Stale topologies/,
      /delivery failures/,
    ])
      expect(titles).toMatch(panel);
    for (const metric of [
      HOST_METRICS.readersUp,
      HOST_METRICS.readerImbalance,
      HOST_METRICS.readerSessions,
      HOST_METRICS.clustersWithoutReaderUp,
      HOST_METRICS.checkFailures,
      HOST_METRICS.applyDuration,
      DELIVERY_METRICS.redelivered,
      DELIVERY_METRICS.sendFailures,
      TOPOLOGY_METRICS.fault,
    ])
      expect(text).toContain(metric);
    expect(text).toContain(`Fleet=\\"${FLEET}\\"`);
  });
});

describe('the optional fleet', () => {
  const fleetIds = (pkg: PackagedService) =>
    Object.entries(pkg.template.Resources)
      .filter(([id]) => id.startsWith('Fleet') || id === 'AuroraIngressFromFleet')
      .map(([id, r]) => [id, r.Condition] as const);

  it('is in the stack only when createFleet=true, with the Aurora ingress only when a group is given', () => {
    expect(fleetIds(existingFleet)).toEqual([]);
    const created = fleetIds(createdFleet).map(([id]) => id);
    expect(created.length).toBeGreaterThanOrEqual(13);
    expect(created).toContain('AuroraIngressFromFleet');
    // No resource hides behind a condition: the stack holds what it deploys.
    for (const [id, condition] of fleetIds(createdFleet)) expect(condition, id).toBeUndefined();
    const egress = props(
      createdFleet.template.Resources.FleetHostSecurityGroup,
    ).SecurityGroupEgress;
    expect(egress[0]).toMatchObject({
      DestinationSecurityGroupId: 'sg-0123456789abcdef0',
      FromPort: '5432',
    });
    expect(createdFleet.template.Resources.UserlistPolicy).toBeDefined();
    expect(existingFleet.template.Resources.UserlistPolicy).toBeUndefined();
  });

  it('passes cfn-lint with no error, both ways', async () => {
    // One cfn-lint process for both templates (its start-up is most of its time).
    const templates = [existingFleet, createdFleet].map((pkg) =>
      join(pkg.dir, 'cloudformation-template-update-stack.json'),
    );
    const { stdout } = await run('cfn-lint', ['--format', 'json', ...templates]).catch(
      (error: { stdout?: string; code?: unknown }) => {
        // cfn-lint exits non-zero when it reports anything, warnings included.
        if (typeof error.stdout !== 'string' || error.code === 'ENOENT') throw error;
        return { stdout: error.stdout };
      },
    );
    const findings = JSON.parse(stdout) as {
      Level: string;
      Rule: { Id: string };
      Message: string;
    }[];
    expect(
      findings.filter((f) => f.Level === 'Error').map((f) => `${f.Rule.Id} ${f.Message}`),
    ).toEqual([]);
  });

  it('listens on 5432, forwards to PgBouncer, and health-checks the agent readiness port', () => {
    const r = createdFleet.template.Resources;
    expect(props(r.FleetListener)).toMatchObject({ Port: 5432, Protocol: 'TCP' });
    expect(props(r.FleetTargetGroup)).toMatchObject({
      Port: DEFAULT_HOST_PORTS.pgbouncer,
      Protocol: 'TCP',
      HealthCheckPort: {
        'Fn::If': [
          'HealthFromAgentReadiness',
          String(DEFAULT_HOST_PORTS.agentReady),
          String(DEFAULT_HOST_PORTS.pgbouncer),
        ],
      },
      HealthCheckProtocol: { 'Fn::If': ['HealthFromAgentReadiness', 'HTTP', 'TCP'] },
    });
    // Default: the agent readiness endpoint.
    expect(createdFleet.template.Conditions?.HealthFromAgentReadiness).toEqual({
      'Fn::Equals': ['agent', 'agent'],
    });
    expect(props(r.FleetLoadBalancer)).toMatchObject({ Type: 'network', Scheme: 'internal' });
  });

  it('lets the NLB reach only PgBouncer and the readiness port, and nothing else in', () => {
    const ingress = props(
      createdFleet.template.Resources.FleetHostSecurityGroup,
    ).SecurityGroupIngress;
    expect(
      ingress.map((i: { FromPort: number; ToPort: number }) => [i.FromPort, i.ToPort]),
    ).toEqual([
      [DEFAULT_HOST_PORTS.pgbouncer, DEFAULT_HOST_PORTS.pgbouncer],
      [DEFAULT_HOST_PORTS.agentReady, DEFAULT_HOST_PORTS.agentReady],
    ]);
    for (const rule of ingress)
      expect(rule.SourceSecurityGroupId).toEqual({ Ref: 'FleetLoadBalancerSecurityGroup' });
  });

  it('holds new instances in a launch hook that they complete themselves', () => {
    const group = props(createdFleet.template.Resources.FleetAutoScalingGroup);
    expect(group.AutoScalingGroupName).toBe(FLEET);
    expect(group.LifecycleHookSpecificationList).toEqual([
      expect.objectContaining({
        LifecycleHookName: 'apply-current-bundle',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        DefaultResult: 'ABANDON',
      }),
    ]);
    expect(group.VPCZoneIdentifier).toEqual({
      'Fn::Split': [',', 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb'],
    });
  });

  it('launches hosts from the official Debian 13 arm64 AMI by default', () => {
    // debianRelease=12 and imageId choose otherwise (unit: deploy-parameters.test.ts).
    expect(
      props(createdFleet.template.Resources.FleetLaunchTemplate).LaunchTemplateData.ImageId,
    ).toBe('resolve:ssm:/aws/service/debian/release/13/latest/arm64');
  });

  it('boots with a user data script bash accepts, which syncs before serving', async () => {
    const parts = props(createdFleet.template.Resources.FleetLaunchTemplate).LaunchTemplateData
      .UserData['Fn::Base64']['Fn::Join'][1] as unknown[];
    // Intrinsics (region, table name) stand in as a plain word.
    const script = parts.map((part) => (typeof part === 'string' ? part : 'x')).join('');
    const path = join(extractDir, 'user-data.sh');
    await writeFile(path, script);
    await run('bash', ['-n', path]);
    expect(script).toContain("LIFECYCLE_HOOK='apply-current-bundle'");
    const sync = script.indexOf('aurora-haproxy-agent sync');
    expect(sync).toBeGreaterThan(0);
    expect(sync).toBeLessThan(script.indexOf('systemctl start'));
    expect(script.indexOf('systemctl start')).toBeLessThan(
      script.indexOf('finish_launch CONTINUE'),
    );
    // The agent config it writes is one the agent accepts (strict schema: no unknown key).
    const heredoc = /cat > \/etc\/aurora-haproxy\/agent\.json <<CONFIG\n([\s\S]*?)\nCONFIG\n/.exec(
      script,
    )?.[1];
    expect(heredoc).toBeDefined();
    // Each shell variable of the heredoc in its variants (user-data.sh builds the optional
    // parts as JSON fragments): every combination must parse, and nothing may be left unbound.
    const variants = [
      {
        credentials: '{"mode":"iam","region":"eu-west-1"}',
        nameserver: '',
        userlist: '',
      },
      {
        credentials: `{"mode":"secret","secretId":"${SECRET_ARN}","region":"eu-west-1"}`,
        nameserver: ', "nameserver": "10.0.0.2:53"',
        userlist: `, "userlist": { "secretId": "${SECRET_ARN}", "region": "eu-west-1" }`,
      },
    ];
    for (const { credentials, nameserver, userlist } of variants) {
      const text = (heredoc ?? '')
        .replaceAll(`\${credentials}`, credentials)
        .replaceAll(`\${haproxy_nameserver}`, nameserver)
        .replaceAll(`\${userlist}`, userlist)
        .replaceAll(`\${AVAILABILITY_ZONE}`, 'eu-west-1a')
        .replaceAll(`\${TABLE_NAME}`, 'aurora-haproxy-test-table')
        .replaceAll(`\${HOST_REPORTS_TABLE}`, 'aurora-haproxy-test-reports')
        .replaceAll(
          `\${INSTANCE_ARN}`,
          'arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc12345def67890',
        )
        .replaceAll(`\${ASG_NAME}`, FLEET)
        .replaceAll(`\${AWS_REGION}`, 'eu-west-1')
        .replaceAll(`\${PROBE_USER}`, 'aurora_haproxy_health');
      expect(text.match(/\$\{?[A-Za-z_]+/g) ?? [], 'shell variables left in agent.json').toEqual(
        [],
      );
      const config = AgentConfigSchema.parse(JSON.parse(text));
      expect(config.health?.readiness?.port).toBe(DEFAULT_HOST_PORTS.agentReady);
      expect(config.health?.statsSocketPath).toBe(haproxyRunFiles(config).statsSocket);
      expect(config.bundleSource?.tableName).toBe('aurora-haproxy-test-table');
      expect(config.report).toMatchObject({
        tableName: 'aurora-haproxy-test-reports',
        metrics: { emfPath: '/var/log/aurora-haproxy/metrics.emf', fleet: FLEET },
      });
    }
    // Every unit, drop-in and tmpfiles entry of infra/systemd/ is installed (and units enabled).
    for (const path of await listFiles('infra/systemd')) {
      const dir = dirname(path);
      const expected = dir === '.' ? path : dir.endsWith('.service.d') ? dir : path;
      expect(script, path).toContain(expected);
    }
  });
});

/** Files under a directory, as paths relative to it. */
async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

function lambdaEnv(name: string): Record<string, string> {
  const vars = props(fn(existingFleet, name as (typeof FUNCTIONS)[number])).Environment
    .Variables as Record<string, unknown>;
  const env: Record<string, string> = {
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: `aurora-haproxy-${STAGE}-${name}`,
  };
  for (const [key, value] of Object.entries(vars))
    env[key] = typeof value === 'string' ? value : `placeholder-${key.toLowerCase()}`;
  return env;
}

describe('fixtures', () => {
  it('lists every sample event in the manifest', async () => {
    const files = (await readdir(FIXTURES)).filter(
      (f) => f.endsWith('.json') && f !== 'manifest.json',
    );
    const manifest = JSON.parse(await readFile(join(FIXTURES, 'manifest.json'), 'utf8')) as {
      events: { file: string }[];
    };
    expect(manifest.events.map((e) => e.file).sort()).toEqual(files.sort());
  });
});
