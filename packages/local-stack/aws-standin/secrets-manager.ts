import { randomUUID } from 'node:crypto';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { FaultSwitch } from './faults';

/**
 * Secrets Manager's JSON 1.1 protocol (X-Amz-Target: secretsmanager.<Operation>) for what the
 * hosts and the tests call: CreateSecret, GetSecretValue (by VersionId or VersionStage, default
 * AWSCURRENT), PutSecretValue (a new version, AWSCURRENT by default; the previous AWSCURRENT
 * becomes AWSPREVIOUS, as AWS moves the labels; the same ClientRequestToken with the same value
 * is idempotent, with another value ResourceExistsException), DescribeSecret
 * (VersionIdsToStages) and ListSecretVersionIds. Responses and errors have AWS's shapes
 * (timestamps in epoch seconds; {"__type", "Message"}). Versions without a label are kept
 * (AWS deletes them eventually; nothing here reads them). A fault switch and a per-operation
 * call counter (the bench counts GetSecretValue calls per host).
 */
export const SECRETS_MANAGER_TARGET_PREFIX = 'secretsmanager.';

interface SecretVersionRecord {
  versionId: string;
  secretString: string;
  stages: Set<string>;
  createdAt: Date;
}

interface SecretRecord {
  name: string;
  arn: string;
  createdAt: Date;
  lastChangedAt: Date;
  versions: SecretVersionRecord[];
}

export class SecretsManagerApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly httpStatus = 400,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;
const epoch = (d: Date) => d.getTime() / 1000;
const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const NOT_FOUND_VERSION =
  "Secrets Manager can't find the specified secret value for staging label: ";

export class SecretStore {
  private readonly secrets = new Map<string, SecretRecord>();
  readonly faults = new FaultSwitch();

  constructor(
    private readonly region = 'us-east-1',
    private readonly accountId = '123456789012',
  ) {}

  /** Test helper: create the secret or put a new AWSCURRENT version; returns its VersionId. */
  set(name: string, value: string): string {
    if (!this.find(name)) this.create(name, value);
    else this.put(name, value);
    return this.current(name)?.versionId ?? '';
  }

  /** Test helper: the AWSCURRENT value. */
  get(name: string): string | undefined {
    return this.find(name) ? this.current(name)?.secretString : undefined;
  }

  /** Test helper: the AWSCURRENT VersionId. */
  currentVersionId(name: string): string | undefined {
    return this.find(name) ? this.current(name)?.versionId : undefined;
  }

  handle(operation: string, input: Json): Json {
    switch (operation) {
      case 'CreateSecret':
        return this.createSecret(input);
      case 'GetSecretValue':
        return this.getSecretValue(input);
      case 'PutSecretValue':
        return this.putSecretValue(input);
      case 'DescribeSecret':
        return this.describeSecret(input);
      case 'ListSecretVersionIds':
        return this.listSecretVersionIds(input);
      default:
        throw new SecretsManagerApiError(
          'UnknownOperationException',
          `operation ${operation} is not supported by the stand-in`,
        );
    }
  }

  private find(id: string): SecretRecord | undefined {
    const byName = this.secrets.get(id);
    if (byName) return byName;
    for (const s of this.secrets.values()) if (s.arn === id) return s;
    return undefined;
  }

  private require(input: Json): SecretRecord {
    const id = input.SecretId;
    if (typeof id !== 'string' || id === '') {
      throw new SecretsManagerApiError('InvalidParameterException', 'SecretId is required');
    }
    const secret = this.find(id);
    if (!secret) throw new SecretsManagerApiError('ResourceNotFoundException', NOT_FOUND);
    return secret;
  }

  private current(name: string): SecretVersionRecord | undefined {
    return this.find(name)?.versions.find((v) => v.stages.has('AWSCURRENT'));
  }

  private create(name: string, value: string, token?: string): SecretRecord {
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw new SecretsManagerApiError('InvalidParameterException', 'Invalid name');
    }
    if (this.secrets.has(name)) {
      throw new SecretsManagerApiError(
        'ResourceExistsException',
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const now = new Date();
    const suffix = randomUUID().replace(/-/g, '').slice(0, 6);
    const secret: SecretRecord = {
      name,
      arn: `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${suffix}`,
      createdAt: now,
      lastChangedAt: now,
      versions: [
        {
          versionId: token ?? randomUUID(),
          secretString: value,
          stages: new Set(['AWSCURRENT']),
          createdAt: now,
        },
      ],
    };
    this.secrets.set(name, secret);
    return secret;
  }

  private put(
    id: string,
    value: string,
    token?: string,
    stages = ['AWSCURRENT'],
  ): SecretVersionRecord {
    const secret = this.require({ SecretId: id });
    const versionId = token ?? randomUUID();
    const existing = secret.versions.find((v) => v.versionId === versionId);
    if (existing) {
      if (existing.secretString !== value) {
        throw new SecretsManagerApiError(
          'ResourceExistsException',
          'You can’t modify an existing version, you can only create a new version.',
        );
      }
      return existing;
    }
    const now = new Date();
    const version: SecretVersionRecord = {
      versionId,
      secretString: value,
      stages: new Set(),
      createdAt: now,
    };
    for (const stage of stages) {
      for (const other of secret.versions) {
        if (!other.stages.has(stage)) continue;
        other.stages.delete(stage);
        if (stage === 'AWSCURRENT') {
          for (const o of secret.versions) o.stages.delete('AWSPREVIOUS');
          other.stages.add('AWSPREVIOUS');
        }
      }
      version.stages.add(stage);
    }
    secret.versions.push(version);
    secret.lastChangedAt = now;
    return version;
  }

  private createSecret(input: Json): Json {
    const name = input.Name;
    const value = input.SecretString;
    if (typeof name !== 'string')
      throw new SecretsManagerApiError('InvalidParameterException', 'Name is required');
    if (typeof value !== 'string') {
      throw new SecretsManagerApiError(
        'InvalidParameterException',
        'SecretString is required here',
      );
    }
    const token =
      typeof input.ClientRequestToken === 'string' ? input.ClientRequestToken : undefined;
    const secret = this.create(name, value, token);
    return { ARN: secret.arn, Name: secret.name, VersionId: secret.versions[0]?.versionId };
  }

  private getSecretValue(input: Json): Json {
    const secret = this.require(input);
    const versionId = typeof input.VersionId === 'string' ? input.VersionId : undefined;
    const stage = typeof input.VersionStage === 'string' ? input.VersionStage : undefined;
    const version = secret.versions.find((v) =>
      versionId
        ? v.versionId === versionId && (!stage || v.stages.has(stage))
        : v.stages.has(stage ?? 'AWSCURRENT'),
    );
    if (!version) {
      throw new SecretsManagerApiError(
        'ResourceNotFoundException',
        `${NOT_FOUND_VERSION}${stage ?? 'AWSCURRENT'}`,
      );
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      SecretString: version.secretString,
      VersionStages: [...version.stages],
      CreatedDate: epoch(version.createdAt),
    };
  }

  private putSecretValue(input: Json): Json {
    const secret = this.require(input);
    if (typeof input.SecretString !== 'string') {
      throw new SecretsManagerApiError(
        'InvalidParameterException',
        'You must provide either SecretString or SecretBinary.',
      );
    }
    const stages = Array.isArray(input.VersionStages)
      ? input.VersionStages.filter((s): s is string => typeof s === 'string')
      : undefined;
    const token =
      typeof input.ClientRequestToken === 'string' ? input.ClientRequestToken : undefined;
    const version = this.put(secret.name, input.SecretString, token, stages);
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      VersionStages: [...version.stages],
    };
  }

  private describeSecret(input: Json): Json {
    const secret = this.require(input);
    return {
      ARN: secret.arn,
      Name: secret.name,
      LastChangedDate: epoch(secret.lastChangedAt),
      CreatedDate: epoch(secret.createdAt),
      RotationEnabled: false,
      VersionIdsToStages: Object.fromEntries(
        secret.versions.filter((v) => v.stages.size > 0).map((v) => [v.versionId, [...v.stages]]),
      ),
    };
  }

  private listSecretVersionIds(input: Json): Json {
    const secret = this.require(input);
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: secret.versions
        .filter((v) => v.stages.size > 0 || input.IncludeDeprecated === true)
        .map((v) => ({
          VersionId: v.versionId,
          VersionStages: [...v.stages],
          CreatedDate: epoch(v.createdAt),
        })),
    };
  }
}

const JSON_TYPE = 'application/x-amz-json-1.1';

/** One HTTP answer to a Secrets Manager request (the stand-in servers call this). */
export function secretsManagerAnswer(
  store: SecretStore,
  operation: string,
  body: string,
): { status: number; contentType: string; body: string } {
  try {
    const fault = store.faults.onRequest(operation);
    if (fault === 'throttle') {
      throw new SecretsManagerApiError('ThrottlingException', 'Rate exceeded');
    }
    if (fault === 'internal') {
      throw new SecretsManagerApiError(
        'InternalServiceError',
        'An error occurred on the server side.',
        500,
      );
    }
    let input: Json;
    try {
      input = body ? (JSON.parse(body) as Json) : {};
    } catch {
      throw new SecretsManagerApiError('SerializationException', 'request body is not JSON');
    }
    return {
      status: 200,
      contentType: JSON_TYPE,
      body: JSON.stringify(store.handle(operation, input)),
    };
  } catch (error) {
    const e =
      error instanceof SecretsManagerApiError
        ? error
        : new SecretsManagerApiError('InternalServiceError', errorMessage(error), 500);
    return {
      status: e.httpStatus,
      contentType: JSON_TYPE,
      body: JSON.stringify({ __type: e.type, Message: e.message }),
    };
  }
}
