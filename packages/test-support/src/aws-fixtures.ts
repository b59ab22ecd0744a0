import type { AutoScalingGroup, Instance } from '@aws-sdk/client-auto-scaling';
import type { Command, CommandInvocation } from '@aws-sdk/client-ssm';
import type { DeliveryRecordsLike } from '../../../functions/delivery/deliver';
import type {
  DeliveryCommandRecord,
  DeliveryState,
} from '../../../functions/state/delivery-records';

/**
 * Response shapes as documented for DescribeAutoScalingGroups (AutoScalingGroup with
 * Instances[{InstanceId, InstanceType, AvailabilityZone, LifecycleState, HealthStatus,
 * LaunchTemplate, ProtectedFromScaleIn}]), SendCommand (Command) and
 * ListCommandInvocations (CommandInvocation with CommandPlugins[{Name, Status,
 * ResponseCode, Output, ...}]), as the SDK deserializes them.
 */
export function asgInstance(
  id: string,
  lifecycle: Instance['LifecycleState'] = 'InService',
  health = 'Healthy',
): Instance {
  return {
    InstanceId: id,
    InstanceType: 't3.small',
    AvailabilityZone: 'eu-west-1a',
    LifecycleState: lifecycle,
    HealthStatus: health,
    LaunchTemplate: {
      LaunchTemplateId: 'lt-0b5d8a1c2e3f4a5b6',
      LaunchTemplateName: 'aurora-haproxy',
      Version: '3',
    },
    ProtectedFromScaleIn: false,
  };
}

export function autoScalingGroup(name: string, instances: Instance[]): AutoScalingGroup {
  return {
    AutoScalingGroupName: name,
    AutoScalingGroupARN: `arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:3b1f2c4d-1111-2222-3333-444455556666:autoScalingGroupName/${name}`,
    LaunchTemplate: {
      LaunchTemplateId: 'lt-0b5d8a1c2e3f4a5b6',
      LaunchTemplateName: 'aurora-haproxy',
      Version: '3',
    },
    MinSize: 2,
    MaxSize: 6,
    DesiredCapacity: instances.length,
    DefaultCooldown: 300,
    AvailabilityZones: ['eu-west-1a', 'eu-west-1b'],
    LoadBalancerNames: [],
    TargetGroupARNs: [
      'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/pgbouncer/73e2d6bc24d8a067',
    ],
    HealthCheckType: 'ELB',
    HealthCheckGracePeriod: 300,
    Instances: instances,
    CreatedTime: new Date('2026-11-01T10:00:00Z'),
    SuspendedProcesses: [],
    VPCZoneIdentifier: 'subnet-0a1b2c3d,subnet-4e5f6a7b',
    EnabledMetrics: [],
    Tags: [],
    TerminationPolicies: ['Default'],
    NewInstancesProtectedFromScaleIn: false,
    ServiceLinkedRoleARN:
      'arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling',
    CapacityRebalance: false,
  };
}

export function sentCommand(commandId: string, input: Record<string, unknown>): Command {
  const instanceIds = (input.InstanceIds as string[]) ?? [];
  return {
    CommandId: commandId,
    DocumentName: input.DocumentName as string,
    DocumentVersion: '$DEFAULT',
    Comment: input.Comment as string,
    ExpiresAfter: new Date('2026-11-26T10:10:00Z'),
    Parameters: input.Parameters as Record<string, string[]>,
    InstanceIds: instanceIds,
    Targets: [],
    RequestedDateTime: new Date('2026-11-26T09:00:00Z'),
    Status: 'Pending',
    StatusDetails: 'Pending',
    OutputS3Region: 'eu-west-1',
    OutputS3BucketName: '',
    OutputS3KeyPrefix: '',
    MaxConcurrency: input.MaxConcurrency as string,
    MaxErrors: input.MaxErrors as string,
    TargetCount: instanceIds.length,
    CompletedCount: 0,
    ErrorCount: 0,
    DeliveryTimedOutCount: 0,
    ServiceRole: '',
    NotificationConfig: { NotificationArn: '', NotificationEvents: [] },
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    TimeoutSeconds: input.TimeoutSeconds as number,
  };
}

export function invocation(
  commandId: string,
  instanceId: string,
  status: string,
  output: string,
  responseCode = status === 'Success' ? 0 : 1,
): CommandInvocation {
  return {
    CommandId: commandId,
    InstanceId: instanceId,
    InstanceName: '',
    Comment: 'aurora-haproxy new-desired',
    DocumentName: 'aurora-haproxy-apply-bundle',
    DocumentVersion: '$DEFAULT',
    RequestedDateTime: new Date('2026-11-26T09:00:00Z'),
    Status: status as CommandInvocation['Status'],
    StatusDetails: status,
    StandardOutputUrl: '',
    StandardErrorUrl: '',
    CommandPlugins: [
      {
        Name: 'applyBundle',
        Status: status as 'Success',
        StatusDetails: status,
        ResponseCode: responseCode,
        ResponseStartDateTime: new Date('2026-11-26T09:00:01Z'),
        ResponseFinishDateTime: new Date('2026-11-26T09:00:02Z'),
        Output: output,
        StandardOutputUrl: '',
        StandardErrorUrl: '',
        OutputS3Region: 'eu-west-1',
        OutputS3BucketName: '',
        OutputS3KeyPrefix: '',
      },
    ],
    ServiceRole: '',
    NotificationConfig: { NotificationArn: '', NotificationEvents: [] },
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
  };
}

export function agentLine(sha256: string, ok = true, action = 'runtime', error?: string) {
  return JSON.stringify({ ok, sha256, action, durationMs: 412, ...(error ? { error } : {}) });
}

export class MemoryDeliveryRecords implements DeliveryRecordsLike {
  commands: DeliveryCommandRecord[] = [];
  state: DeliveryState | undefined;
  async record(commands: readonly DeliveryCommandRecord[], state: DeliveryState) {
    this.commands.push(...commands);
    this.state = structuredClone(state);
    return 'recorded' as const;
  }
  async readState() {
    return this.state ? structuredClone(this.state) : undefined;
  }
}
