import { awsErrorMessage } from '@aurora-haproxy/contract/aws-errors';
import {
  type AutoScalingClient,
  type AutoScalingGroup,
  paginateDescribeAutoScalingGroups,
} from '@aws-sdk/client-auto-scaling';
import { FleetLookupError } from './errors';

/**
 * The instances of the HAProxy Auto Scaling group that can take a bundle now: lifecycle
 * state InService and health Healthy. Pending instances are left out on purpose: they sync
 * the desired bundle at boot, before the lifecycle hook lets them take traffic.
 */
export async function listFleetInstances(
  autoScaling: AutoScalingClient,
  groupName: string,
): Promise<string[]> {
  const groups: AutoScalingGroup[] = [];
  const pages = paginateDescribeAutoScalingGroups(
    { client: autoScaling, stopOnSameToken: true },
    { AutoScalingGroupNames: [groupName] },
  );
  try {
    for await (const page of pages) groups.push(...(page.AutoScalingGroups ?? []));
  } catch (error) {
    throw new FleetLookupError(
      `DescribeAutoScalingGroups for ${groupName} failed: ${awsErrorMessage(error)}`,
      { cause: error },
    );
  }
  const group = groups.find((g) => g.AutoScalingGroupName === groupName);
  if (!group) throw new FleetLookupError(`Auto Scaling group ${groupName} does not exist`);
  return (group.Instances ?? [])
    .filter((i) => i.LifecycleState === 'InService' && i.HealthStatus === 'Healthy')
    .flatMap((i) => (i.InstanceId ? [i.InstanceId] : []))
    .sort();
}
