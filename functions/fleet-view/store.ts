import { awsErrorMessage } from '@aurora-haproxy/contract/aws-errors';
import {
  HOST_REPORT_BODY_ATTRIBUTE,
  HOST_REPORT_KEY,
  type HostReport,
  HostReportSchema,
  instanceIdFromArn,
} from '@aurora-haproxy/contract/host-report';
import {
  type AttributeValue,
  type DynamoDBClient,
  ScanCommand,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { HostReportsError } from './errors';

/**
 * The hosts' reports (one item per host, packages/contract/src/host-report.ts), read with a
 * consistent Scan: the table holds one small item per host (a terminated host's expires by
 * TTL a day later), so a scan reads a few KB. The host's identity is taken from the key (the
 * only part its IAM policy constrains); an item that does not parse is returned as invalid,
 * with the reason, instead of failing the whole status.
 */
export type StoredHostReport =
  | { instanceId: string; report: HostReport }
  | { instanceId: string; invalid: string };

/** Bound on pages read (1 MB each): far above any fleet, and a status call stays bounded. */
const MAX_PAGES = 20;

export class HostReportStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async list(): Promise<StoredHostReport[]> {
    const reports: StoredHostReport[] = [];
    let start: Record<string, AttributeValue> | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let out: ScanCommandOutput;
      try {
        out = await this.client.send(
          new ScanCommand({
            TableName: this.tableName,
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
      } catch (cause) {
        throw new HostReportsError(
          `reading host reports from ${this.tableName} failed: ${awsErrorMessage(cause)}`,
          { cause },
        );
      }
      for (const item of out.Items ?? []) reports.push(parseItem(item));
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    return reports.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  }
}

export function parseItem(item: Record<string, AttributeValue>): StoredHostReport {
  const key = item[HOST_REPORT_KEY]?.S ?? '';
  const instanceId = instanceIdFromArn(key);
  if (!instanceId) {
    return { instanceId: key.slice(0, 100) || '(no key)', invalid: 'key is not an instance ARN' };
  }
  const body = item[HOST_REPORT_BODY_ATTRIBUTE]?.S;
  if (body === undefined) return { instanceId, invalid: 'no report attribute' };
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { instanceId, invalid: 'report is not JSON' };
  }
  const parsed = HostReportSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      instanceId,
      invalid: `report is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    };
  }
  return { instanceId, report: parsed.data };
}
