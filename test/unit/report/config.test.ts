import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../../agent/config';

const ARN = 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc12345def67890';

describe('agent config: report section', () => {
  it('defaults to a sample per second, a write per second at most, a heartbeat every 5 s', () => {
    const config = parseAgentConfig({ report: { tableName: 'reports', instanceArn: ARN } });
    expect(config.report).toMatchObject({ sampleMs: 1000, minWriteMs: 1000, heartbeatMs: 5000 });
  });

  it.each([
    [
      'an instance ARN of another shape',
      { instanceArn: 'arn:aws:iam::123456789012:role/x' },
      /instanceArn/,
    ],
    ['a write rate above the heartbeat', { minWriteMs: 6000, heartbeatMs: 5000 }, /minWriteMs/],
    ['a relative metrics path', { metrics: { emfPath: 'metrics.emf', fleet: 'f' } }, /emfPath/],
    ['a fleet name with a quote', { metrics: { emfPath: '/m.emf', fleet: 'f"x' } }, /fleet/],
    ['an unknown key', { extra: true }, /report/],
  ])('refuses %s', (_, over, message) => {
    expect(() =>
      parseAgentConfig({ report: { tableName: 'reports', instanceArn: ARN, ...over } }),
    ).toThrow(message);
  });
});
