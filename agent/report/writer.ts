import { awsErrorMessage } from '@aurora-haproxy/contract/aws-errors';
import {
  HOST_REPORT_BODY_ATTRIBUTE,
  HOST_REPORT_KEY,
  HOST_REPORT_TTL_ATTRIBUTE,
  HOST_REPORT_TTL_SECONDS,
  type HostReport,
} from '@aurora-haproxy/contract/host-report';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { HostReportError } from './errors';

/**
 * Writes this host's report: one PutItem of its own item (key = its instance ARN, the only
 * key its IAM policy allows), the report as one JSON string, and a TTL a day out so a
 * terminated host's record goes away by itself.
 */
export class HostReportWriter {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly instanceArn: string,
  ) {}

  async write(report: HostReport): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            [HOST_REPORT_KEY]: { S: this.instanceArn },
            [HOST_REPORT_BODY_ATTRIBUTE]: { S: JSON.stringify(report) },
            [HOST_REPORT_TTL_ATTRIBUTE]: {
              N: String(Math.floor(report.reportedAt / 1000) + HOST_REPORT_TTL_SECONDS),
            },
          },
        }),
      );
    } catch (cause) {
      throw new HostReportError(
        `writing the host report to ${this.tableName} failed: ${awsErrorMessage(cause)}`,
        { cause },
      );
    }
  }
}
