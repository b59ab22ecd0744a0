import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import table from '../../infra/table.json';
import { startProcess } from './process/managed-process';
import { freePort } from './process/ports';
import { waitFor } from './process/wait';

/**
 * AWS's DynamoDB Local (the jar shipped inside the npm package amplify-dynamodb-simulator),
 * started in memory on a free port, ended by PID. It implements transactions and condition
 * expressions exactly as the registry and the desired-state CAS rely on.
 */
export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  pid: number;
  /** A client for this instance (dummy credentials; DynamoDB Local accepts any). */
  client(): DynamoDBClient;
  /**
   * Create a table with the project's table definition (infra/table.json), or another of
   * the project's definitions (infra/host-reports-table.json).
   */
  createTable(name: string, definition?: TableDefinition): Promise<void>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startDynamoDbLocal(
  options: { logDir?: string } = {},
): Promise<DynamoDbLocal> {
  const emulatorDir = join(
    dirname(require.resolve('amplify-dynamodb-simulator/package.json')),
    'emulator',
  );
  const port = await freePort();
  const logDir = options.logDir ?? mkdtempSync(join(tmpdir(), 'ah-ddb-'));
  const proc = startProcess({
    name: 'dynamodb-local',
    command: 'java',
    args: [
      '-Xms64m',
      '-Xmx512m',
      '-Djava.library.path=./DynamoDBLocal_lib',
      '-jar',
      'DynamoDBLocal.jar',
      '-inMemory',
      '-port',
      String(port),
    ],
    cwd: emulatorDir,
    logFile: join(logDir, 'dynamodb-local.log'),
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const makeClient = () =>
    new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 3,
    });
  const probe = makeClient();
  try {
    await waitFor(
      'DynamoDB Local to answer',
      async () => {
        if (!proc.running) throw new Error('DynamoDB Local exited; see its log');
        await probe.send(new CreateTableCommand(tableInput('__ready_probe')));
        return true;
      },
      // The JVM's start alone took over 30 s on the 2-core machine under a load of 18.
      { timeoutMs: 90_000, intervalMs: 200 },
    );
  } catch (error) {
    await proc.stop();
    throw error;
  } finally {
    probe.destroy();
  }
  return {
    endpoint,
    port,
    pid: proc.pid,
    client: makeClient,
    async createTable(name, definition) {
      const client = makeClient();
      try {
        await client.send(new CreateTableCommand(tableInput(name, definition)));
      } finally {
        client.destroy();
      }
    },
    stop: () => proc.stop(),
  };
}

/** The parts of a CloudFormation table definition DynamoDB Local's CreateTable takes. */
export interface TableDefinition {
  BillingMode: string;
  AttributeDefinitions: { AttributeName: string; AttributeType: string }[];
  KeySchema: { AttributeName: string; KeyType: string }[];
}

function tableInput(name: string, definition: TableDefinition = table) {
  return {
    TableName: name,
    BillingMode: definition.BillingMode as 'PAY_PER_REQUEST',
    AttributeDefinitions: definition.AttributeDefinitions as {
      AttributeName: string;
      AttributeType: 'S';
    }[],
    KeySchema: definition.KeySchema as { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[],
  };
}
