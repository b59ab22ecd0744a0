import { ClusterIdSchema } from '@aurora-haproxy/contract/registry';
import * as z from 'zod';
import { clusterAddSchema, clusterUpdateSchema, type ReservedPorts } from '../registry/validate';

/**
 * What the admin Lambda accepts: one object, discriminated on `action`. Cluster fields are
 * the registry contract's (plus the reserved-port rule), so nothing reaches the store
 * unvalidated. Built per deployment because the reserved ports are a setting.
 */
export const ADMIN_ACTIONS = [
  'add',
  'update',
  'remove',
  'get',
  'list',
  'status',
  'reconcile-now',
] as const;

export function adminRequestSchema(reserved: ReservedPorts) {
  return z.discriminatedUnion(
    'action',
    [
      clusterAddSchema(reserved).extend({
        action: z.literal('add'),
        /** Skip the RDS checks (exists, aurora-postgresql, has a reader). */
        force: z.boolean().optional(),
      }),
      clusterUpdateSchema(reserved).extend({ action: z.literal('update') }),
      z.strictObject({
        action: z.literal('remove'),
        clusterId: ClusterIdSchema,
        /** Remove only if still at this version. */
        version: z.number().int().min(1).optional(),
      }),
      z.strictObject({ action: z.literal('get'), clusterId: ClusterIdSchema }),
      z.strictObject({ action: z.literal('list') }),
      z.strictObject({
        action: z.literal('status'),
        /** Only this cluster in the fleet view (`clusters status <id>`). */
        clusterId: ClusterIdSchema.optional(),
      }),
      z.strictObject({ action: z.literal('reconcile-now') }),
    ],
    {
      error: (issue) =>
        issue.code === 'invalid_union'
          ? `must be one of ${ADMIN_ACTIONS.join(', ')}`
          : 'expected an object with an action',
    },
  );
}

export type AdminRequest = z.output<ReturnType<typeof adminRequestSchema>>;
export type AdminRequestInput = z.input<ReturnType<typeof adminRequestSchema>>;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

const built = new WeakMap<ReservedPorts, ReturnType<typeof adminRequestSchema>>();

/** The schema for these reserved ports, built once (a warm Lambda reuses it). */
export function adminRequestSchemaFor(reserved: ReservedPorts) {
  let schema = built.get(reserved);
  if (!schema) {
    schema = adminRequestSchema(reserved);
    built.set(reserved, schema);
  }
  return schema;
}
