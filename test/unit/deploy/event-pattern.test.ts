import { describe, expect, it } from 'vitest';
import { matchesPattern, UnsupportedPatternError } from './support/event-pattern';

const rdsEvent = {
  source: 'aws.rds',
  'detail-type': 'RDS DB Cluster Event',
  resources: ['arn:aws:rds:us-east-1:123456789012:cluster:my-db-cluster'],
  detail: {
    EventCategories: ['failover'],
    SourceIdentifier: 'rds:my-db-cluster',
    EventID: 'RDS-EVENT-0071',
  },
};

describe('EventBridge pattern matching (test support)', () => {
  it('matches when every named field has an accepted value, at any depth', () => {
    // Prepare
    const pattern = {
      source: ['aws.rds'],
      'detail-type': ['RDS DB Cluster Event'],
      detail: { EventID: ['RDS-EVENT-0070', 'RDS-EVENT-0071'] },
    };
    // Act / Assess
    expect(matchesPattern(pattern, rdsEvent)).toBe(true);
  });

  it('fails on one wrong field, on case, and on a field the event does not have', () => {
    expect(matchesPattern({ source: ['aws.ec2'] }, rdsEvent)).toBe(false);
    expect(matchesPattern({ source: ['AWS.RDS'] }, rdsEvent)).toBe(false);
    expect(matchesPattern({ detail: { Message: ['x'] } }, rdsEvent)).toBe(false);
    expect(matchesPattern({ detail: { EventID: ['RDS-EVENT-0007'] } }, rdsEvent)).toBe(false);
  });

  it('matches an array value when any element is accepted', () => {
    expect(matchesPattern({ detail: { EventCategories: ['backup', 'failover'] } }, rdsEvent)).toBe(
      true,
    );
    expect(matchesPattern({ detail: { EventCategories: ['backup'] } }, rdsEvent)).toBe(false);
  });

  it('evaluates prefix, suffix, anything-but, exists and equals-ignore-case', () => {
    expect(matchesPattern({ detail: { SourceIdentifier: [{ prefix: 'rds:' }] } }, rdsEvent)).toBe(
      true,
    );
    expect(matchesPattern({ detail: { EventID: [{ suffix: '0071' }] } }, rdsEvent)).toBe(true);
    expect(matchesPattern({ source: [{ 'anything-but': ['aws.rds'] }] }, rdsEvent)).toBe(false);
    expect(matchesPattern({ source: [{ 'anything-but': 'aws.ec2' }] }, rdsEvent)).toBe(true);
    expect(matchesPattern({ detail: { Message: [{ exists: false }] } }, rdsEvent)).toBe(true);
    expect(matchesPattern({ detail: { EventID: [{ exists: true }] } }, rdsEvent)).toBe(true);
    expect(matchesPattern({ detail: { EventID: [{ exists: false }] } }, rdsEvent)).toBe(false);
    expect(matchesPattern({ source: [{ 'equals-ignore-case': 'AWS.RDS' }] }, rdsEvent)).toBe(true);
  });

  it('refuses operators it does not implement instead of ignoring them', () => {
    expect(() => matchesPattern({ source: [{ wildcard: 'aws.*' }] }, rdsEvent)).toThrow(
      UnsupportedPatternError,
    );
    expect(() => matchesPattern({ source: [] }, rdsEvent)).toThrow(UnsupportedPatternError);
  });
});
