import { describe, expect, it } from 'vitest';
import {
  collectStatements,
  evaluateConditions,
  iamViolations,
  type Statement,
  unexpectedManagedPolicies,
} from './support/iam-rules';

const tableArn = { 'Fn::GetAtt': ['RegistryTable', 'Arn'] };
const sub = (arn: string) => ({ 'Fn::Sub': arn });

function roleWith(...statements: unknown[]) {
  return {
    Resources: {
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: { Policies: [{ PolicyName: 'p', PolicyDocument: { Statement: statements } }] },
      },
    },
  };
}

function violations(...statements: Statement[]): string[] {
  return iamViolations(collectStatements(roleWith(...statements)));
}

describe('IAM rules checker (test support)', () => {
  it('accepts scoped statements and Resource "*" for actions AWS does not scope', () => {
    expect(
      violations(
        { Sid: 'a', Effect: 'Allow', Action: ['dynamodb:GetItem'], Resource: [tableArn] },
        {
          Sid: 'b',
          Effect: 'Allow',
          Action: 'rds:DescribeDBClusters',
          Resource: sub(`arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:cluster:*`),
        },
        { Sid: 'c', Effect: 'Allow', Action: ['ssm:ListCommandInvocations'], Resource: '*' },
      ),
    ).toEqual([]);
  });

  it.each<[string, Statement]>([
    ['Action *', { Effect: 'Allow', Action: '*', Resource: [tableArn] }],
    ['a service wildcard', { Effect: 'Allow', Action: ['dynamodb:*'], Resource: [tableArn] }],
    ['a partial wildcard', { Effect: 'Allow', Action: ['ssm:Get*'], Resource: [tableArn] }],
    [
      'Resource * on a scopable action',
      { Effect: 'Allow', Action: ['dynamodb:GetItem'], Resource: '*' },
    ],
    ['NotAction', { Effect: 'Allow', NotAction: ['iam:PassRole'], Resource: [tableArn] }],
    [
      'any account',
      {
        Effect: 'Allow',
        Action: ['rds:DescribeDBInstances'],
        Resource: 'arn:aws:rds:eu-west-1:*:db:*',
      },
    ],
    [
      'every resource of a service',
      {
        Effect: 'Allow',
        Action: ['ssm:SendCommand'],
        Resource: sub(`arn:aws:ssm:\${AWS::Region}:\${AWS::AccountId}:*`),
      },
    ],
    [
      'SendCommand to instances without the fleet tag',
      {
        Effect: 'Allow',
        Action: ['ssm:SendCommand'],
        Resource: sub(`arn:aws:ec2:\${AWS::Region}:\${AWS::AccountId}:instance/*`),
      },
    ],
  ])('flags %s', (_, statement) => {
    expect(violations(statement)).not.toEqual([]);
  });

  it('takes the Fn::If branch the conditions select, and skips resources whose condition is false', () => {
    // Prepare
    const template = {
      Conditions: {
        UseIam: { 'Fn::Equals': ['iam', 'iam'] },
        Fleet: { 'Fn::Equals': ['false', 'true'] },
      },
      Resources: {
        Policy: {
          Type: 'AWS::IAM::ManagedPolicy',
          Properties: {
            PolicyDocument: {
              Statement: [
                {
                  'Fn::If': [
                    'UseIam',
                    {
                      Sid: 'iam',
                      Effect: 'Allow',
                      Action: 'rds-db:connect',
                      Resource: sub(
                        `arn:aws:rds-db:\${AWS::Region}:\${AWS::AccountId}:dbuser:cluster-*/u`,
                      ),
                    },
                    {
                      Sid: 'secret',
                      Effect: 'Allow',
                      Action: 'secretsmanager:GetSecretValue',
                      Resource: 'not-an-arn',
                    },
                  ],
                },
              ],
            },
          },
        },
        FleetOnly: {
          Type: 'AWS::IAM::ManagedPolicy',
          Condition: 'Fleet',
          Properties: {
            PolicyDocument: { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
          },
        },
      },
    };
    // Act
    const statements = collectStatements(template);
    // Assess
    expect(statements.map((s) => s.statement.Sid)).toEqual(['iam']);
    expect(iamViolations(statements)).toEqual([]);
  });

  it('evaluates Not / And / Condition references', () => {
    const values = evaluateConditions({
      A: { 'Fn::Equals': ['x', 'x'] },
      B: { 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] },
      C: { 'Fn::And': [{ Condition: 'A' }, { Condition: 'B' }] },
    });
    expect([values.get('A'), values.get('B'), values.get('C')]).toEqual([true, false, false]);
  });

  it('allows only AmazonSSMManagedInstanceCore and the stack policy as managed policies', () => {
    const role = (arns: unknown[]) => ({
      R: { Type: 'AWS::IAM::Role', Properties: { ManagedPolicyArns: arns } },
    });
    expect(
      unexpectedManagedPolicies(
        role([
          sub(`arn:\${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`),
          { Ref: 'InstancePolicy' },
        ]),
      ),
    ).toEqual([]);
    expect(
      unexpectedManagedPolicies(role(['arn:aws:iam::aws:policy/AdministratorAccess'])),
    ).not.toEqual([]);
  });
});
