import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { bundleSourceClientConfig, DynamoDbBundleSource } from '../bundle-source/dynamodb';
import { BundleSourceError } from '../bundle-source/errors';
import { readBundleFile } from '../bundle-source/file';
import type { BundleSource } from '../bundle-source/source';
import { type AgentConfig, haproxyRunFiles } from '../config';
import { hostResolverFor } from '../dns/host-resolver';
import { HaproxyMasterCli } from '../haproxy/master-cli';
import { HaproxyRuntimeApi } from '../haproxy/runtime-api';
import { PgbouncerAdmin } from '../pgbouncer/admin';
import { StateStore } from '../state/state-store';
import type { ApplyDeps } from './apply';

/** Wire the real adapters from the agent config. */
export function createApplyDeps(
  config: AgentConfig,
  options: { bundleFile?: string; log?: (line: string) => void } = {},
): ApplyDeps {
  const { statsSocket } = haproxyRunFiles(config);
  return {
    config,
    store: new StateStore(config.stateDir),
    runtime: new HaproxyRuntimeApi(statsSocket),
    master: new HaproxyMasterCli(config.haproxy.masterSocket, {
      confirmTimeoutMs: config.haproxy.reloadTimeoutMs,
    }),
    pgbouncer: new PgbouncerAdmin(config.pgbouncer.admin),
    loadBundle: (sha256) =>
      options.bundleFile !== undefined
        ? readBundleFile(options.bundleFile, sha256)
        : createBundleSource(config).getBundle(sha256),
    resolveHost: hostResolverFor(config.haproxy.host.nameserver),
    log: options.log,
  };
}

let dynamoClient: DynamoDBClient | undefined;

export function createBundleSource(config: AgentConfig): BundleSource {
  const source = config.bundleSource;
  if (source === undefined) {
    throw new BundleSourceError(
      'the agent config has no bundleSource (DynamoDB table); pass --bundle-file for local use',
    );
  }
  dynamoClient ??= new DynamoDBClient({
    ...(source.region ? { region: source.region } : {}),
    ...(source.endpoint ? { endpoint: source.endpoint } : {}),
    ...bundleSourceClientConfig(),
  });
  return new DynamoDbBundleSource(dynamoClient, source.tableName);
}
