/**
 * Errors of the registry unit. Each carries a stable `code` that the admin Lambda returns to
 * its caller, and a message that names the field, port, alias or cluster at fault.
 */
export type RegistryErrorCode =
  | 'VALIDATION_FAILED'
  | 'CLUSTER_EXISTS'
  | 'PORT_TAKEN'
  | 'ALIAS_TAKEN'
  | 'VERSION_CONFLICT'
  | 'CLUSTER_NOT_FOUND'
  | 'REGISTRY_FULL'
  | 'STORE_UNAVAILABLE';

export abstract class RegistryError extends Error {
  abstract readonly code: RegistryErrorCode;
}

/** One problem with one field of an input, e.g. {field: 'port', message: '6432 is reserved…'}. */
export interface ValidationIssue {
  /** Dotted path of the field, e.g. `databases.0.alias`; `(input)` for the whole input. */
  field: string;
  /** Machine-readable kind: a zod issue code, or `reserved_port`. */
  code: string;
  message: string;
}

export class RegistryValidationError extends RegistryError {
  override readonly name = 'RegistryValidationError';
  readonly code = 'VALIDATION_FAILED';
  constructor(readonly issues: readonly ValidationIssue[]) {
    super(issues.map((issue) => `${issue.field}: ${issue.message}`).join('; '));
  }
}

export class ClusterExistsError extends RegistryError {
  override readonly name = 'ClusterExistsError';
  readonly code = 'CLUSTER_EXISTS';
  constructor(readonly clusterId: string) {
    super(`clusterId: ${clusterId} is already registered`);
  }
}

export class PortTakenError extends RegistryError {
  override readonly name = 'PortTakenError';
  readonly code = 'PORT_TAKEN';
  constructor(
    readonly port: number,
    readonly heldBy?: string,
    /** The field the port was sent in: `port`, or `options.writer.port`. */
    readonly field = 'port',
  ) {
    super(`${field}: ${port} is already used${heldBy ? ` by cluster ${heldBy}` : ''}`);
  }
}

export class AliasTakenError extends RegistryError {
  override readonly name = 'AliasTakenError';
  readonly code = 'ALIAS_TAKEN';
  constructor(
    readonly alias: string,
    readonly heldBy?: string,
    /** The field the alias was sent in: `databases.alias`, or `options.writer.alias`. */
    readonly field = 'databases.alias',
  ) {
    super(`${field}: ${alias} is already used${heldBy ? ` by cluster ${heldBy}` : ''}`);
  }
}

export class VersionConflictError extends RegistryError {
  override readonly name = 'VersionConflictError';
  readonly code = 'VERSION_CONFLICT';
  constructor(
    readonly clusterId: string,
    readonly expectedVersion: number,
    readonly actualVersion?: number,
  ) {
    super(
      `version: ${clusterId} is at version ${actualVersion ?? 'unknown'}, not ${expectedVersion}; read it again and retry`,
    );
  }
}

export class ClusterNotFoundError extends RegistryError {
  override readonly name = 'ClusterNotFoundError';
  readonly code = 'CLUSTER_NOT_FOUND';
  constructor(readonly clusterId: string) {
    super(`clusterId: ${clusterId} is not registered`);
  }
}

/** The registry holds the most clusters one bundle is measured to carry to every host. */
export class RegistryFullError extends RegistryError {
  override readonly name = 'RegistryFullError';
  readonly code = 'REGISTRY_FULL';
  constructor(
    readonly registered: number,
    readonly max: number,
  ) {
    super(
      `clusterId: the registry holds ${registered} clusters, the most one bundle is measured to store, fetch and apply on every host (${max}, docs/BENCHMARKS.md); remove a cluster first`,
    );
  }
}

/** DynamoDB failed (throttling, network, a malformed stored item): nothing is known to have changed. */
export class RegistryStoreError extends RegistryError {
  override readonly name = 'RegistryStoreError';
  readonly code = 'STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A deployment setting (e.g. RESERVED_PORTS) is malformed: the function cannot validate input. */
export class RegistryConfigError extends Error {
  override readonly name = 'RegistryConfigError';
  readonly code = 'CONFIG_INVALID';
}
