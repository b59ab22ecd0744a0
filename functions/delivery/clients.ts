import { AutoScalingClient, type AutoScalingClientConfig } from '@aws-sdk/client-auto-scaling';
import { SSMClient, type SSMClientConfig } from '@aws-sdk/client-ssm';

/** SSM and Auto Scaling clients with the SDK's backoff retries, adaptive to throttling. */
export function createSsmClient(config: SSMClientConfig = {}): SSMClient {
  return new SSMClient({
    maxAttempts: 5,
    retryMode: 'adaptive',
    requestHandler: {
      requestTimeout: 10_000,
      connectionTimeout: 2_000,
      throwOnRequestTimeout: true,
    },
    ...config,
  });
}

export function createAutoScalingClient(config: AutoScalingClientConfig = {}): AutoScalingClient {
  return new AutoScalingClient({
    maxAttempts: 5,
    retryMode: 'adaptive',
    requestHandler: {
      requestTimeout: 10_000,
      connectionTimeout: 2_000,
      throwOnRequestTimeout: true,
    },
    ...config,
  });
}
