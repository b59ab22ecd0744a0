import * as z from 'zod';
import {
  canonicalArrayPieces,
  canonicalJson,
  canonicalJsonOnce,
  canonicalObjectPieces,
  jsonEscaped,
  jsonStringPieces,
  sha256OfPieces,
} from './canonical-json';
import { BACKEND_NAME, MAX_READER_SLOTS, MEMBER_SLOT_NAME, SLOT_NAME } from './names';
import { AVAILABILITY_ZONE, isServerAddress, SHA256_HEX } from './patterns';
import {
  ClusterIdSchema,
  ClusterOptionsSchema,
  DatabaseSchema,
  InstanceIdSchema,
  PortSchema,
} from './registry';

/**
 * The bundle: everything one HAProxy host needs, rendered centrally, identical on every
 * host, identified by the sha256 of its canonical content (createdAt is not hashed, so equal
 * input gives an equal sha). Shared by the orchestrator (writes it) and the agent (applies it).
 */
export const BUNDLE_SCHEMA_VERSION = 1;

/** A software version as bundles state a requirement: 1.21, 3.0.5. */
export const VERSION = /^\d{1,3}\.\d{1,3}(?:\.\d{1,3})?$/;

export const BundleServerSchema = z.strictObject({
  /** Slot name in the cluster's backend; stable while the instance stays in the cluster. */
  name: z.string().regex(SLOT_NAME),
  instanceId: InstanceIdSchema,
  address: z.string().refine(isServerAddress, { message: 'must be a DNS name or IPv4 address' }),
  port: z.number().int().min(1).max(65535),
  /**
   * reader: takes reads; writer: only ever a `backup` server, and only with fallbackToWriter.
   * In a writer endpoint's member slot: what RDS says the instance is (the health daemon's
   * tie-break when two servers claim to be the writer).
   */
  role: z.enum(['reader', 'writer']),
  /** HAProxy weight (equal: 100 each; instance-class: vCPUs of the class). */
  weight: z.number().int().min(1).max(256),
  /**
   * The reader's RDS AvailabilityZone, only in clusters with options.azAffinity (absent
   * elsewhere, so their bundles keep their sha): each host compares it with its own zone.
   */
  az: z.string().regex(AVAILABILITY_ZONE).optional(),
});

/**
 * The writer endpoint's HAProxy listener (options.writer set): one member slot m01..mNN per
 * member of the cluster (readers and writer alike, whatever excludeInstances says: any of
 * them may be promoted); a slot passes only while its server is the writer.
 */
export const WriterListenerSchema = z.strictObject({
  /** HAProxy backend (listen section) name: `aurora-<clusterId>_writer`. */
  backend: z.string().regex(BACKEND_NAME),
  /** Member slots rendered; free ones are spares for hitless adds. */
  slots: z.number().int().min(1).max(MAX_READER_SLOTS),
  servers: z.array(
    BundleServerSchema.refine((s) => MEMBER_SLOT_NAME.test(s.name), {
      message: 'a writer endpoint slot is named m01..m99',
    }),
  ),
});

export const BundleClusterSchema = z
  .strictObject({
    clusterId: ClusterIdSchema,
    port: PortSchema,
    /** HAProxy backend (listen section) name. */
    backend: z.string().regex(BACKEND_NAME),
    /** Reader slots rendered in the backend; free slots are spares for hitless adds. */
    readerSlots: z.number().int().min(1).max(MAX_READER_SLOTS),
    options: ClusterOptionsSchema,
    databases: z.array(DatabaseSchema),
    servers: z.array(
      BundleServerSchema.refine((s) => !MEMBER_SLOT_NAME.test(s.name), {
        message: "m01..m99 are the writer endpoint's slots, not the reader listener's",
      }),
    ),
    /** The topology behind this cluster was the last known good (RDS API fault). */
    stale: z.boolean(),
    /** The writer endpoint's listener; present exactly when options.writer is set. */
    writer: WriterListenerSchema.optional(),
  })
  .refine((c) => (c.writer === undefined) === (c.options.writer === undefined), {
    message: 'the writer listener is present exactly when options.writer is set',
    path: ['writer'],
  });

export const BundleContentSchema = z.strictObject({
  schema: z.literal(BUNDLE_SCHEMA_VERSION),
  /**
   * sha256 of the HAProxy config rendered with every slot empty: equal structure sha means
   * the change is membership only and can be applied through the runtime API, no reload.
   */
  structureSha256: z.string().regex(SHA256_HEX),
  files: z.strictObject({
    haproxy: z.string().min(1),
    pgbouncerDatabases: z.string(),
  }),
  clusters: z.array(BundleClusterSchema),
  /**
   * Optional: the oldest HAProxy / PgBouncer version ("major.minor[.patch]") a host needs for
   * this bundle; an older host refuses it with a clear error and changes nothing. Absent, it is
   * not hashed (canonicalJson drops undefined), so every bundle made before it keeps its sha.
   */
  requires: z
    .strictObject({
      haproxy: z.string().regex(VERSION).optional(),
      pgbouncer: z.string().regex(VERSION).optional(),
    })
    .optional(),
});

export const BundleSchema = BundleContentSchema.extend({
  sha256: z.string().regex(SHA256_HEX),
  createdAt: z.iso.datetime(),
});

export type BundleServer = z.infer<typeof BundleServerSchema>;
export type BundleCluster = z.infer<typeof BundleClusterSchema>;
export type WriterListener = z.infer<typeof WriterListenerSchema>;
export type BundleContent = z.infer<typeof BundleContentSchema>;
export type Bundle = z.infer<typeof BundleSchema>;

/**
 * sha256 over the canonical JSON of the hashed content (everything but sha256, createdAt):
 * canonicalJson({ schema, structureSha256, files, clusters, requires }), hashed piece by
 * piece from its members, so that a cluster object the render reuses (deep-frozen) is
 * serialized only once and no multi-megabyte JSON string is built.
 * @param haproxyEscaped the HAProxy config as pieces already JSON-escaped (jsonEscaped of
 *   consecutive parts of files.haproxy): the render keeps each cluster's escaped section, so
 *   a tick escapes only what changed. Absent: files.haproxy is escaped whole.
 */
export function bundleSha256(content: BundleContent, haproxyEscaped?: readonly string[]): string {
  const { schema, structureSha256, files, clusters, requires } = content;
  const filesPieces = canonicalObjectPieces({
    haproxy: jsonStringPieces(haproxyEscaped ?? [jsonEscaped(files.haproxy)]),
    pgbouncerDatabases: [canonicalJson(files.pgbouncerDatabases)],
  });
  return sha256OfPieces(
    canonicalObjectPieces({
      schema: [canonicalJson(schema)],
      structureSha256: [canonicalJson(structureSha256)],
      files: filesPieces,
      clusters: canonicalArrayPieces(clusters.map(canonicalJsonOnce)),
      requires: requires === undefined ? undefined : [canonicalJson(requires)],
    }),
  );
}

export function sealBundle(
  content: BundleContent,
  createdAt: Date,
  haproxyEscaped?: readonly string[],
): Bundle {
  return {
    ...content,
    sha256: bundleSha256(content, haproxyEscaped),
    createdAt: createdAt.toISOString(),
  };
}

/**
 * Bundle objects this process verified (parseBundle) or rendered from validated input
 * (renderBundle): checking one again, as the render does with `previous` on every reconcile,
 * re-serialized, re-parsed and re-hashed megabytes for nothing. Bundles are never mutated
 * after they are made; an object from anywhere else is still verified in full.
 */
const verified = new WeakSet<Bundle>();

export function markVerified(bundle: Bundle): Bundle {
  verified.add(bundle);
  return bundle;
}

export function isVerified(bundle: Bundle): boolean {
  return verified.has(bundle);
}

export class BundleIntegrityError extends Error {
  override readonly name = 'BundleIntegrityError';
}

/**
 * Parse untrusted bundle JSON, check its shape and that its content hashes to its sha256
 * (and to `expectedSha256` when given). Throws BundleIntegrityError naming the problem.
 */
export function parseBundle(json: string, expectedSha256?: string): Bundle {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new BundleIntegrityError('bundle is not valid JSON', { cause });
  }
  const parsed = BundleSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BundleIntegrityError(
      `bundle does not match the schema: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  const bundle = parsed.data;
  const actual = bundleSha256(bundle);
  if (actual !== bundle.sha256) {
    throw new BundleIntegrityError(
      `bundle content hashes to ${actual}, not its sha256 ${bundle.sha256}`,
    );
  }
  if (expectedSha256 !== undefined && bundle.sha256 !== expectedSha256) {
    throw new BundleIntegrityError(
      `bundle sha256 ${bundle.sha256} is not the requested ${expectedSha256}`,
    );
  }
  return markVerified(bundle);
}
