import { describe, expect, it } from 'vitest';
import {
  EQUAL_WEIGHT,
  instanceClassVcpus,
  SERVERLESS_VCPUS,
  serverWeight,
  UNKNOWN_SIZE_VCPUS,
} from '../../../functions/render/weights';

describe('instanceClassVcpus', () => {
  it.each([
    ['db.t4g.medium', 2],
    ['db.r6g.large', 2],
    ['db.r6g.xlarge', 4],
    ['db.r7g.2xlarge', 8],
    ['db.r6i.16xlarge', 64],
    ['db.r6i.32xlarge', 128],
    ['db.x2g.48xlarge', 192],
    ['db.serverless', SERVERLESS_VCPUS],
    ['db.r6g.metal', UNKNOWN_SIZE_VCPUS],
  ])('%s has %i vCPUs', (instanceClass, vcpus) => {
    expect(instanceClassVcpus(instanceClass)).toBe(vcpus);
  });
});

describe('serverWeight', () => {
  it('gives every server the same weight in equal mode', () => {
    expect(serverWeight('equal', 'db.r6g.large')).toBe(EQUAL_WEIGHT);
    expect(serverWeight('equal', 'db.r6g.16xlarge')).toBe(EQUAL_WEIGHT);
  });

  it('weights by vCPUs in instance-class mode, clamped to 1..256', () => {
    expect(serverWeight('instance-class', 'db.r6g.large')).toBe(2);
    expect(serverWeight('instance-class', 'db.r6g.4xlarge')).toBe(16);
    expect(serverWeight('instance-class', 'db.r6g.96xlarge')).toBe(256);
    expect(serverWeight('instance-class', 'db.t3.micro')).toBe(1);
  });
});
