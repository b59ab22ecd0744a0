import { AutoScalingClient, type AutoScalingClientConfig } from '@aws-sdk/client-auto-scaling';
import { SSMClient, type SSMClientConfig } from '@aws-sdk/client-ssm';
import { retryingClientConfig } from '../shared/sdk-client-config';

/** SSM and Auto Scaling clients with the SDK's backoff retries, adaptive to throttling. */
export function createSsmClient(config: SSMClientConfig = {}): SSMClient {
  return new SSMClient({ ...retryingClientConfig(10_000), ...config });
}

export function createAutoScalingClient(config: AutoScalingClientConfig = {}): AutoScalingClient {
  return new AutoScalingClient({ ...retryingClientConfig(10_000), ...config });
}
