import type { FleetView } from './fleet-view';
import { listParam, paginate, QueryError, type QueryParams } from './query-protocol';
import { el, val } from './xml';

/**
 * Auto Scaling DescribeAutoScalingGroups over the Query protocol (API 2011-01-01): lists are
 * `<member>` elements; an unknown group name gives an empty list, not an error.
 */
export const AUTOSCALING_NAMESPACE = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const ARN_PREFIX =
  'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/';
const CREATED = new Date().toISOString();

const members = (...items: (string | undefined)[]) => items.map((i) => el('member', i));

export function describeAutoScalingGroups(fleet: FleetView, params: QueryParams): string {
  const names = listParam(params, 'AutoScalingGroupNames.member');
  const rawMax = params.get('MaxRecords');
  const size = rawMax === undefined ? 50 : Number(rawMax);
  if (!Number.isInteger(size) || size < 1 || size > 100) {
    throw new QueryError(
      400,
      'ValidationError',
      `MaxRecords must be between 1 and 100, got ${rawMax}`,
    );
  }
  const groups = names.length === 0 || names.includes(fleet.groupName) ? [fleet] : [];
  const { page, next } = paginate(groups, params.get('NextToken'), size);
  return [el('AutoScalingGroups', ...page.map(groupXml)), val('NextToken', next)]
    .filter(Boolean)
    .join('');
}

function groupXml(fleet: FleetView): string {
  const instances = fleet.instances();
  const azs = [...new Set(instances.map((i) => i.az))].sort();
  const template = el(
    'LaunchTemplate',
    val('LaunchTemplateId', 'lt-0123456789abcdef0'),
    val('LaunchTemplateName', `${fleet.groupName}-template`),
    val('Version', '$Latest'),
  );
  return el(
    'member',
    val('AutoScalingGroupName', fleet.groupName),
    val('AutoScalingGroupARN', `${ARN_PREFIX}${fleet.groupName}`),
    template,
    val('MinSize', fleet.minSize),
    val('MaxSize', fleet.maxSize),
    val('DesiredCapacity', instances.length),
    val('DefaultCooldown', 300),
    el('AvailabilityZones', ...members(...azs.map((az) => az))),
    el('LoadBalancerNames'),
    el('TargetGroupARNs'),
    val('HealthCheckType', 'ELB'),
    val('HealthCheckGracePeriod', 300),
    el(
      'Instances',
      ...instances.map((i) =>
        el(
          'member',
          val('InstanceId', i.instanceId),
          val('InstanceType', 't4g.small'),
          val('AvailabilityZone', i.az),
          val('LifecycleState', i.lifecycleState),
          val('HealthStatus', i.healthStatus),
          template,
          val('ProtectedFromScaleIn', false),
        ),
      ),
    ),
    val('CreatedTime', CREATED),
    el('SuspendedProcesses'),
    val('VPCZoneIdentifier', 'subnet-0123456789abcdef0'),
    el('EnabledMetrics'),
    el('Tags'),
    el('TerminationPolicies', el('member', 'Default')),
    val('NewInstancesProtectedFromScaleIn', false),
    val(
      'ServiceLinkedRoleARN',
      'arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling',
    ),
    val('CapacityRebalance', false),
  );
}
