import { DEFAULT_HOST_PORTS } from '@aurora-haproxy/contract/host';
import {
  ClusterAddInputSchema,
  ClusterUpdateInputSchema,
  checkWriterEndpoint,
  PortSchema,
} from '@aurora-haproxy/contract/registry';
import type { z } from 'zod';
import { RegistryConfigError, RegistryValidationError, type ValidationIssue } from './errors';

/**
 * Registry input validation: the contract schemas (packages/contract/src/registry.ts) plus what
 * depends on the deployment, i.e. the reserved host ports. Every error names its field.
 */

/** Reserved host ports and what each one is for (used in error messages). */
export type ReservedPorts = ReadonlyMap<number, string>;

const PORT_PURPOSE: Record<keyof typeof DEFAULT_HOST_PORTS, string> = {
  pgbouncer: 'pgbouncer',
  haproxyStats: 'the HAProxy stats page',
  agentCheck: 'the agent check listener',
  agentReady: 'the agent readiness endpoint',
};

export const DEFAULT_RESERVED: ReservedPorts = new Map(
  (Object.keys(DEFAULT_HOST_PORTS) as (keyof typeof DEFAULT_HOST_PORTS)[]).map((name) => [
    DEFAULT_HOST_PORTS[name],
    PORT_PURPOSE[name],
  ]),
);

/**
 * The RESERVED_PORTS setting: a comma list of ports that replaces the defaults; absent or
 * empty means DEFAULT_RESERVED. A malformed list is a deployment error, never ignored.
 * The stats port stays reserved whatever the setting: the render writes it into every
 * HAProxy config (a cluster on it would be a second bind of the same port, which
 * `haproxy -c` passes and HAProxy's start refuses).
 */
export function reservedPortsFromEnv(value: string | undefined): ReservedPorts {
  if (value === undefined || value.trim() === '') return DEFAULT_RESERVED;
  const reserved = new Map<number, string>([
    [DEFAULT_HOST_PORTS.haproxyStats, PORT_PURPOSE.haproxyStats],
  ]);
  for (const part of value.split(',')) {
    const text = part.trim();
    const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RegistryConfigError(
        `RESERVED_PORTS: "${oneLine(text, 20)}" is not a port (expected a comma list of 1-65535)`,
      );
    }
    reserved.set(port, DEFAULT_RESERVED.get(port) ?? 'this host (RESERVED_PORTS)');
  }
  return reserved;
}

/** A cluster port: in range and not reserved on the HAProxy hosts. */
export function clusterPortSchema(reserved: ReservedPorts) {
  return PortSchema.superRefine((port, ctx) => {
    const purpose = reserved.get(port);
    if (purpose !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `${port} is reserved for ${purpose}`,
        params: { reason: 'reserved_port' },
      });
    }
  });
}

/**
 * `add`: the contract, the reserved ports for the cluster's port and its writer endpoint's,
 * and the writer endpoint's rules against the cluster's own port and aliases.
 */
export function clusterAddSchema(reserved: ReservedPorts) {
  return ClusterAddInputSchema.extend({ port: clusterPortSchema(reserved) })
    .superRefine((input, ctx) => checkReservedWriterPort(input.options.writer?.port, reserved, ctx))
    .superRefine(checkWriterEndpoint);
}

/**
 * `update`: the writer endpoint against the cluster's current port and aliases is checked by
 * the store on the merged entry (it is not known here); the reserved ports are checked here.
 */
export function clusterUpdateSchema(reserved: ReservedPorts) {
  return ClusterUpdateInputSchema.extend({
    port: clusterPortSchema(reserved).optional(),
  }).superRefine((input, ctx) =>
    checkReservedWriterPort(input.options?.writer?.port, reserved, ctx),
  );
}

function checkReservedWriterPort(
  port: number | undefined,
  reserved: ReservedPorts,
  ctx: z.RefinementCtx,
): void {
  const purpose = port === undefined ? undefined : reserved.get(port);
  if (purpose === undefined) return;
  ctx.addIssue({
    code: 'custom',
    path: ['options', 'writer', 'port'],
    message: `${port} is reserved for ${purpose}`,
    params: { reason: 'reserved_port' },
  });
}

export type ValidatedAdd = z.output<ReturnType<typeof clusterAddSchema>>;
export type ValidatedUpdate = z.output<ReturnType<typeof clusterUpdateSchema>>;

/** Parse an `add` input; throws RegistryValidationError listing every problem. */
export function validateAdd(
  raw: unknown,
  reserved: ReservedPorts = DEFAULT_RESERVED,
): ValidatedAdd {
  return parseOrThrow(clusterAddSchema(reserved), raw);
}

/** Parse an `update` input; throws RegistryValidationError listing every problem. */
export function validateUpdate(
  raw: unknown,
  reserved: ReservedPorts = DEFAULT_RESERVED,
): ValidatedUpdate {
  return parseOrThrow(clusterUpdateSchema(reserved), raw);
}

export function parseOrThrow<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new RegistryValidationError(validationIssues(parsed.error));
  return parsed.data;
}

/** zod issues as ValidationIssues: dotted field path, a kind, a one-line message. */
export function validationIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => {
    const reason = issue.code === 'custom' ? issue.params?.reason : undefined;
    return {
      field: issue.path.length > 0 ? issue.path.map(String).join('.') : '(input)',
      code: typeof reason === 'string' ? reason : issue.code,
      message: oneLine(issue.message, 200),
    };
  });
}

/** Messages may quote caller-sent keys: keep them to one bounded, printable line. */
export function oneLine(text: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const printable = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return printable.length > max ? `${printable.slice(0, max - 1)}…` : printable;
}
