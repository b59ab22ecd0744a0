import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { AUTOSCALING_NAMESPACE } from '../aws-standin/autoscaling-api';
import { readBody } from '../aws-standin/http-server';
import {
  parseQueryBody,
  QueryError,
  queryErrorXml,
  queryResponse,
} from '../aws-standin/query-protocol';
import {
  SECRETS_MANAGER_TARGET_PREFIX,
  SecretStore,
  secretsManagerAnswer,
} from '../aws-standin/secrets-manager';
import { el, val } from '../aws-standin/xml';

/**
 * What infra/fleet/user-data.sh (through curl and the AWS CLI) and the agent (through the AWS
 * SDK) call on a booting host, on one loopback HTTP server, each speaking its real wire
 * protocol so the real clients run unchanged:
 * - instance metadata v2 under /latest/: `PUT /latest/api/token` (TTL header required), then
 *   `GET /latest/meta-data/...` with the token (401 without): instance-id,
 *   placement/availability-zone, placement/region, iam/security-credentials/<role> (the
 *   instance profile's credentials the CLI and SDK fetch themselves);
 * - S3 REST HeadObject / GetObject, path-style `/<bucket>/<key>` (the CLI uses path style for
 *   an IP endpoint); a missing key is 404 NoSuchKey;
 * - Secrets Manager JSON 1.1 (../aws-standin/secrets-manager.ts: GetSecretValue, PutSecretValue,
 *   DescribeSecret, ... with version staging);
 * - Auto Scaling Query `CompleteLifecycleAction`, recorded; a second completion of the same
 *   instance's action is refused as AWS does (no active lifecycle action);
 * - plain downloads under /downloads/ (Node's tarball and SHASUMS256.txt, the SSM Agent
 *   package, the RDS CA bundle).
 * Requests the server does not know are 400/404, never a silent success.
 */
export interface LifecycleCompletion {
  instanceId: string;
  result: 'CONTINUE' | 'ABANDON';
  groupName: string;
  hookName: string;
  at: number;
}

export interface BootStandins {
  endpoint: string;
  /** Instance metadata answered to the next boots (one instance id per boot). */
  instance: { instanceId: string; availabilityZone: string; region: string };
  objects: Map<string, Buffer>;
  /** The Secrets Manager stand-in's secrets (`set` creates or puts a new AWSCURRENT version). */
  secrets: SecretStore;
  downloads: Map<string, Buffer>;
  completions: LifecycleCompletion[];
  /** Every request line seen (method + path), for tests that assert what was called. */
  requests: string[];
  close(): Promise<void>;
}

const ROLE = 'aurora-haproxy-host';
const JSON_TYPE = 'application/x-amz-json-1.1';

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export async function startBootStandins(region = 'us-east-1'): Promise<BootStandins> {
  const tokens = new Set<string>();
  const standins: Omit<BootStandins, 'endpoint' | 'close'> = {
    instance: { instanceId: 'i-0000000000000000a', availabilityZone: `${region}a`, region },
    objects: new Map(),
    secrets: new SecretStore(region),
    downloads: new Map(),
    completions: [],
    requests: [],
  };

  const handle = (method: string, url: URL, headers: IncomingMessage['headers'], body: string) => {
    standins.requests.push(`${method} ${url.pathname}`);
    if (url.pathname.startsWith('/latest/')) return imds(method, url.pathname, headers);
    if (url.pathname.startsWith('/downloads/')) {
      const file = standins.downloads.get(url.pathname.slice('/downloads/'.length));
      return file && method === 'GET'
        ? { status: 200, body: file }
        : { status: 404, body: 'Not Found' };
    }
    const target = headers['x-amz-target'];
    if (typeof target === 'string') return secretsManager(target, body);
    if (method === 'POST') return autoScaling(body);
    return s3(method, url.pathname);
  };

  function imds(method: string, path: string, headers: IncomingMessage['headers']): Answer {
    if (path === '/latest/api/token') {
      const ttl = Number(headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (method !== 'PUT') return { status: 405 };
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return { status: 400 };
      const token = randomUUID();
      tokens.add(token);
      return {
        status: 200,
        body: token,
        headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) },
      };
    }
    const token = headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !tokens.has(token)) return { status: 401 };
    if (method !== 'GET') return { status: 405 };
    const { instanceId, availabilityZone } = standins.instance;
    const values: Record<string, string> = {
      '/latest/meta-data/instance-id': instanceId,
      '/latest/meta-data/placement/availability-zone': availabilityZone,
      '/latest/meta-data/placement/region': standins.instance.region,
      '/latest/meta-data/services/partition': 'aws',
      // Shape of IMDS's identity-credentials/ec2/info document (EC2 user guide).
      '/latest/meta-data/identity-credentials/ec2/info': JSON.stringify(
        { Code: 'Success', LastUpdated: new Date().toISOString(), AccountId: '123456789012' },
        null,
        2,
      ),
      '/latest/meta-data/iam/security-credentials/': ROLE,
      '/latest/meta-data/iam/security-credentials': ROLE,
      [`/latest/meta-data/iam/security-credentials/${ROLE}`]: JSON.stringify({
        Code: 'Success',
        LastUpdated: new Date().toISOString(),
        Type: 'AWS-HMAC',
        // DynamoDB Local keeps one database per access key: the stack's ('local').
        AccessKeyId: 'local',
        SecretAccessKey: 'local-boot-harness-secret',
        Token: 'local-boot-harness-session',
        Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
      }),
    };
    const value = values[path];
    return value === undefined ? { status: 404, body: 'Not Found' } : { status: 200, body: value };
  }

  function s3(method: string, path: string): Answer {
    const key = decodeURIComponent(path.slice(1));
    const object = standins.objects.get(key);
    if (method !== 'GET' && method !== 'HEAD') return s3Error(405, 'MethodNotAllowed', key);
    if (!object) return method === 'HEAD' ? { status: 404 } : s3Error(404, 'NoSuchKey', key);
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(object.length),
      etag: `"${createHash('md5').update(object).digest('hex')}"`,
      'last-modified': new Date(0).toUTCString(),
      'accept-ranges': 'bytes',
    };
    return method === 'HEAD' ? { status: 200, headers } : { status: 200, headers, body: object };
  }

  function s3Error(status: number, code: string, key: string): Answer {
    const messages: Record<string, string> = {
      NoSuchKey: 'The specified key does not exist.',
      MethodNotAllowed: 'The specified method is not allowed against this resource.',
    };
    return {
      status,
      headers: { 'content-type': 'application/xml' },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n${el(
        'Error',
        val('Code', code),
        val('Message', messages[code] ?? code),
        val('Key', key),
        val('RequestId', randomUUID()),
      )}`,
    };
  }

  function secretsManager(target: string, body: string): Answer {
    if (!target.startsWith(SECRETS_MANAGER_TARGET_PREFIX)) {
      return {
        status: 400,
        headers: { 'content-type': JSON_TYPE },
        body: JSON.stringify({
          __type: 'UnknownOperationException',
          Message: `operation ${target} is not served here`,
        }),
      };
    }
    const answer = secretsManagerAnswer(
      standins.secrets,
      target.slice(SECRETS_MANAGER_TARGET_PREFIX.length),
      body,
    );
    return {
      status: answer.status,
      headers: { 'content-type': answer.contentType },
      body: answer.body,
    };
  }

  function autoScaling(body: string): Answer {
    const xml = (status: number, text: string): Answer => ({
      status,
      headers: { 'content-type': 'text/xml' },
      body: text,
    });
    try {
      const params = parseQueryBody(body);
      const action = params.get('Action');
      if (action !== 'CompleteLifecycleAction') {
        throw new QueryError(
          400,
          'InvalidAction',
          `the action ${action ?? '(none)'} is not valid for this web service`,
        );
      }
      const instanceId = params.get('InstanceId') ?? '';
      const result = params.get('LifecycleActionResult');
      const groupName = params.get('AutoScalingGroupName') ?? '';
      const hookName = params.get('LifecycleHookName') ?? '';
      if (result !== 'CONTINUE' && result !== 'ABANDON') {
        throw new QueryError(
          400,
          'ValidationError',
          'LifecycleActionResult must be CONTINUE or ABANDON',
        );
      }
      if (!groupName || !hookName || !instanceId) {
        throw new QueryError(400, 'ValidationError', 'group, hook and instance id are required');
      }
      if (standins.completions.some((c) => c.instanceId === instanceId)) {
        throw new QueryError(
          400,
          'ValidationError',
          `No active Lifecycle Action found with instance ID ${instanceId}`,
        );
      }
      standins.completions.push({ instanceId, result, groupName, hookName, at: Date.now() });
      return xml(200, queryResponse('CompleteLifecycleAction', AUTOSCALING_NAMESPACE, ''));
    } catch (error) {
      const e =
        error instanceof QueryError ? error : new QueryError(500, 'InternalFailure', String(error));
      return xml(e.httpStatus, queryErrorXml(AUTOSCALING_NAMESPACE, e));
    }
  }

  const server: Server = createServer((req, res) => void serve(req, res));
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = await readBody(req);
      const answer = handle(
        req.method ?? 'GET',
        new URL(req.url ?? '/', 'http://local'),
        req.headers,
        body,
      );
      const payload = answer.body === undefined ? Buffer.alloc(0) : Buffer.from(answer.body);
      res.writeHead(answer.status, {
        'x-amzn-requestid': randomUUID(),
        ...(answer.headers?.['content-length'] ? {} : { 'content-length': String(payload.length) }),
        ...answer.headers,
      });
      res.end(req.method === 'HEAD' ? undefined : payload);
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`boot stand-ins failed: ${errorMessage(error)}`);
    }
  }
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    ...standins,
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
