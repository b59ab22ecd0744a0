import type { ClusterOptions } from '@aurora-haproxy/contract/registry';

/** Weight of every server under `weights: equal` (agent-check `NN%` is relative to it). */
export const EQUAL_WEIGHT = 100;
export const MIN_WEIGHT = 1;
export const MAX_WEIGHT = 256;

/**
 * vCPUs by instance size (the last part of the class, e.g. `xlarge` in db.r6g.xlarge), the
 * same for every Aurora PostgreSQL family (r5, r6g, r6i, r7g, r8g, x2g, t3, t4g):
 * micro/small 1 (burstable), medium 2, large 2, xlarge 4, Nxlarge 4*N (2xlarge 8 ...
 * 48xlarge 192). db.serverless scales by ACU, which its class does not say: it counts as
 * SERVERLESS_VCPUS. A size this table does not know counts as UNKNOWN_SIZE_VCPUS, so a new
 * family never breaks rendering.
 */
const VCPUS_BY_SIZE: Readonly<Record<string, number>> = {
  micro: 1,
  small: 1,
  medium: 2,
  large: 2,
  xlarge: 4,
};
export const SERVERLESS_VCPUS = 8;
export const UNKNOWN_SIZE_VCPUS = 2;

export function instanceClassVcpus(instanceClass: string): number {
  if (instanceClass === 'db.serverless') return SERVERLESS_VCPUS;
  const size = instanceClass.split('.')[2];
  if (size === undefined) return UNKNOWN_SIZE_VCPUS;
  const known = VCPUS_BY_SIZE[size];
  if (known !== undefined) return known;
  const multiple = /^([1-9]\d{0,2})xlarge$/.exec(size);
  if (multiple?.[1] !== undefined) return 4 * Number(multiple[1]);
  return UNKNOWN_SIZE_VCPUS;
}

/**
 * equal: EQUAL_WEIGHT for everyone. instance-class: weight = vCPUs of the class, clamped to
 * 1..256 (HAProxy's range), so traffic is proportional to vCPUs up to 64xlarge.
 */
export function serverWeight(mode: ClusterOptions['weights'], instanceClass: string): number {
  if (mode === 'equal') return EQUAL_WEIGHT;
  return Math.min(MAX_WEIGHT, Math.max(MIN_WEIGHT, instanceClassVcpus(instanceClass)));
}
