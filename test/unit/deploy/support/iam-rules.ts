/**
 * The project's IAM rules, checked on the CloudFormation template serverless generates:
 * - no "Action": "*", no service wildcard ("ssm:*") and no wildcard in an action name;
 * - no NotAction / NotResource;
 * - "Resource": "*" only when every action of the statement is one AWS does not scope to a
 *   resource (UNSCOPED_ACTIONS, each named in iam/README.md);
 * - every other resource is an ARN of a named service in a named region and account (this
 *   stack's, or the ones an operator-given ARN names), or a reference to a stack resource;
 * - ssm:SendCommand to instances only with the fleet tag condition;
 * - the only managed policies attached are AmazonSSMManagedInstanceCore and the stack's own.
 */

export const UNSCOPED_ACTIONS = new Set([
  'ssm:ListCommandInvocations',
  'autoscaling:DescribeAutoScalingGroups',
]);

export const FLEET_TAG_CONDITION_KEY = 'ssm:resourceTag/aurora-haproxy-fleet';

export interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
}

export interface LocatedStatement {
  where: string;
  statement: Statement;
}

type Resources = Record<
  string,
  { Type: string; Condition?: string; Properties?: Record<string, unknown> }
>;

export interface TemplateLike {
  Resources: Resources;
  Conditions?: Record<string, unknown>;
}

/**
 * Every policy statement the stack would deploy (trust policies aside). The parameters are
 * literals in the packaged template, so its Conditions can be evaluated: resources whose
 * condition is false are left out, and Fn::If contributes the branch that would be taken.
 */
export function collectStatements(template: TemplateLike): LocatedStatement[] {
  const conditions = evaluateConditions(template.Conditions ?? {});
  const branches = (value: unknown): unknown[] => {
    if (Array.isArray(value)) return value.flatMap(branches);
    const ifs = (value as { 'Fn::If'?: unknown } | null)?.['Fn::If'];
    if (Array.isArray(ifs)) return branches(conditionValue(conditions, ifs[0]) ? ifs[1] : ifs[2]);
    if ((value as { Ref?: unknown } | null)?.Ref === 'AWS::NoValue') return [];
    return value === undefined ? [] : [value];
  };
  const out: LocatedStatement[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Condition !== undefined && !conditionValue(conditions, resource.Condition)) {
      continue;
    }
    const p = resource.Properties ?? {};
    const documents: [string, unknown][] = [];
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (p.Policies as { PolicyName: string; PolicyDocument: unknown }[]) ??
        []) {
        documents.push([`${id}/${policy.PolicyName}`, policy.PolicyDocument]);
      }
    } else if (
      resource.Type === 'AWS::IAM::ManagedPolicy' ||
      resource.Type === 'AWS::IAM::Policy' ||
      resource.Type === 'AWS::SQS::QueuePolicy' ||
      resource.Type === 'AWS::SNS::TopicPolicy'
    ) {
      documents.push([id, p.PolicyDocument]);
    }
    for (const [where, document] of documents) {
      const statements = (document as { Statement?: unknown } | undefined)?.Statement;
      for (const s of branches(statements)) out.push({ where, statement: s as Statement });
    }
  }
  return out;
}

/** Human-readable violations of the rules; empty when the statements obey them. */
export function iamViolations(located: LocatedStatement[]): string[] {
  const problems: string[] = [];
  for (const { where, statement: s } of located) {
    const at = `${where}/${s.Sid ?? '(no Sid)'}`;
    if (s.NotAction !== undefined || s.NotResource !== undefined) {
      problems.push(`${at}: NotAction / NotResource`);
    }
    if (s.Effect !== 'Allow') continue;
    const actions = asList(s.Action);
    if (actions.length === 0) problems.push(`${at}: no Action`);
    for (const action of actions) {
      if (typeof action !== 'string' || !/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(action)) {
        problems.push(`${at}: action ${JSON.stringify(action)} is a wildcard or malformed`);
      }
    }
    const resources = asList(s.Resource);
    if (resources.length === 0) problems.push(`${at}: no Resource`);
    for (const resource of resources) {
      if (resource === '*') {
        const scoped = actions.filter((a) => !UNSCOPED_ACTIONS.has(String(a)));
        if (scoped.length > 0) {
          problems.push(`${at}: Resource "*" for actions AWS can scope: ${scoped.join(', ')}`);
        }
        continue;
      }
      const arnProblem = checkArn(resource);
      if (arnProblem) problems.push(`${at}: ${arnProblem}`);
    }
    if (actions.includes('ssm:SendCommand')) {
      const toInstances = resources.some((r) => arnText(r)?.includes(':instance/'));
      const tag = s.Condition?.StringEquals?.[FLEET_TAG_CONDITION_KEY];
      if (toInstances && (typeof tag !== 'string' || tag.length === 0)) {
        problems.push(`${at}: ssm:SendCommand to instances without ${FLEET_TAG_CONDITION_KEY}`);
      }
    }
  }
  return problems;
}

/** Managed policies attached to roles, other than the allowed ones. */
export function unexpectedManagedPolicies(resources: Resources): string[] {
  const problems: string[] = [];
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    for (const arn of (r.Properties?.ManagedPolicyArns as unknown[]) ?? []) {
      const text = arnText(arn);
      const ok =
        JSON.stringify(arn) === JSON.stringify({ Ref: 'InstancePolicy' }) ||
        (text !== undefined && /:iam::aws:policy\/AmazonSSMManagedInstanceCore$/.test(text));
      if (!ok) problems.push(`${id}: managed policy ${JSON.stringify(arn)}`);
    }
  }
  return problems;
}

function checkArn(resource: unknown): string | undefined {
  if (isGetAtt(resource)) return undefined; // the stack's own resource
  const text = arnText(resource);
  if (text === undefined) return `resource ${JSON.stringify(resource)} is not an ARN`;
  // Pseudo parameters contain '::'; name them by token before splitting the ARN.
  const parts = text
    .replaceAll(`\${AWS::Partition}`, 'PARTITION')
    .replaceAll(`\${AWS::Region}`, 'REGION')
    .replaceAll(`\${AWS::AccountId}`, 'ACCOUNT')
    .split(':');
  if (parts[0] !== 'arn' || parts.length < 6) return `resource ${text} is not an ARN`;
  const [, partition, service, region, account] = parts;
  if (partition !== 'PARTITION' && partition !== 'aws') return `resource ${text}: partition`;
  if (!service || service.includes('*')) return `resource ${text}: service is a wildcard`;
  const global = service === 's3' || service === 'iam';
  // This stack's region and account, or a named one (an operator-given secret ARN).
  if (!global && region !== 'REGION' && !/^[a-z]{2}(?:-[a-z]+)+-\d$/.test(region ?? '')) {
    return `resource ${text}: region is not named`;
  }
  if (!global && account !== 'ACCOUNT' && !/^\d{12}$/.test(account ?? '')) {
    return `resource ${text}: account is not named`;
  }
  if (parts.slice(5).join(':') === '*') return `resource ${text}: every resource of the service`;
  return undefined;
}

/** The ARN text of a literal or Fn::Sub resource; undefined for other intrinsics. */
export function arnText(resource: unknown): string | undefined {
  if (typeof resource === 'string') return resource;
  const sub = (resource as { 'Fn::Sub'?: unknown } | null)?.['Fn::Sub'];
  return typeof sub === 'string' ? sub : undefined;
}

function isGetAtt(resource: unknown): boolean {
  const att = (resource as { 'Fn::GetAtt'?: unknown } | null)?.['Fn::GetAtt'];
  return Array.isArray(att) && att[1] === 'Arn';
}

/** Evaluate CloudFormation conditions built from literals (Equals, Not, And, Or, Condition). */
export function evaluateConditions(definitions: Record<string, unknown>): Map<string, boolean> {
  const values = new Map<string, boolean>();
  const evaluate = (expr: unknown): boolean => {
    const e = expr as Record<string, unknown>;
    if ('Condition' in e) return byName(String(e.Condition));
    if (Array.isArray(e['Fn::Equals'])) {
      const [a, b] = e['Fn::Equals'];
      if (typeof a === 'object' || typeof b === 'object') {
        throw new Error(`condition compares a non-literal: ${JSON.stringify(expr)}`);
      }
      return String(a) === String(b);
    }
    if (Array.isArray(e['Fn::Not'])) return !evaluate(e['Fn::Not'][0]);
    if (Array.isArray(e['Fn::And'])) return e['Fn::And'].every(evaluate);
    if (Array.isArray(e['Fn::Or'])) return e['Fn::Or'].some(evaluate);
    throw new Error(`unsupported condition ${JSON.stringify(expr)}`);
  };
  const byName = (name: string): boolean => {
    const known = values.get(name);
    if (known !== undefined) return known;
    if (!(name in definitions)) throw new Error(`unknown condition ${name}`);
    const value = evaluate(definitions[name]);
    values.set(name, value);
    return value;
  };
  for (const name of Object.keys(definitions)) byName(name);
  return values;
}

function conditionValue(conditions: Map<string, boolean>, name: unknown): boolean {
  const value = conditions.get(String(name));
  if (value === undefined) throw new Error(`unknown condition ${String(name)}`);
  return value;
}

function asList(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
