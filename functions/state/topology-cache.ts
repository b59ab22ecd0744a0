import { markParsed } from '@aurora-haproxy/contract/parsed-marks';
import { keys } from '@aurora-haproxy/contract/table';
import { type ClusterTopology, ClusterTopologySchema } from '@aurora-haproxy/contract/topology';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { documentClient, storeError } from './document-client';

/**
 * Per cluster: the last known good topology (what a fault falls back to) and what the
 * latest observation was (ok, or the fault / not-found reason, for `status`).
 * Item { pk: TOPOLOGY#<id>, sk: LAST, clusterId, topology?: JSON, observation }.
 */
export const ObservationSchema = z.object({
  ok: z.boolean(),
  notFound: z.boolean().optional(),
  problem: z.string().optional(),
  at: z.string(),
});
export type Observation = z.infer<typeof ObservationSchema>;

export interface CachedTopology {
  /** Last known good topology (stale: false as observed). Absent: never observed. */
  topology?: ClusterTopology;
  observation?: Observation;
}

const BATCH_GET_LIMIT = 100;
const UNPROCESSED_RETRIES = 5;

export class TopologyCache {
  private readonly doc: DynamoDBDocumentClient;
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  /** Cached entries of these clusters; a cluster never cached is absent from the map. */
  async getMany(clusterIds: readonly string[]): Promise<Map<string, CachedTopology>> {
    const result = new Map<string, CachedTopology>();
    const unique = [...new Set(clusterIds)];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      let pending: Record<string, unknown>[] = unique
        .slice(i, i + BATCH_GET_LIMIT)
        .map((id) => keys.topology(id));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) {
          throw storeError('reading cached topologies', new Error('keys left unprocessed'));
        }
        if (attempt > 0) await sleep(50 * 2 ** attempt);
        let out: BatchGetCommandOutput;
        try {
          out = await this.doc.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            }),
          );
        } catch (error) {
          throw storeError('reading cached topologies', error);
        }
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const entry = decodeItem(item);
          if (entry) result.set(entry.clusterId, entry.cached);
        }
        pending = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return result;
  }

  /** Store a freshly observed topology as the last known good, observation ok. */
  async saveGood(topology: ClusterTopology): Promise<void> {
    const good: ClusterTopology = { ...topology, stale: false };
    delete good.problem;
    delete good.notFound;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.topology(topology.clusterId),
            clusterId: topology.clusterId,
            topology: JSON.stringify(good),
            observation: { ok: true, at: topology.observedAt },
          },
        }),
      );
    } catch (error) {
      throw storeError(`caching the topology of ${topology.clusterId}`, error);
    }
  }

  /** Record a fault or not-found, keeping the last known good topology untouched. */
  async recordProblem(clusterId: string, observation: Observation): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.topology(clusterId),
          UpdateExpression: 'SET clusterId = :id, observation = :obs',
          ExpressionAttributeValues: { ':id': clusterId, ':obs': observation },
        }),
      );
    } catch (error) {
      throw storeError(`recording the topology problem of ${clusterId}`, error);
    }
  }
}

/** A malformed cached item is treated as absent: the cache is an optimisation, not truth. */
function decodeItem(
  item: Record<string, unknown>,
): { clusterId: string; cached: CachedTopology } | undefined {
  if (typeof item.clusterId !== 'string') return undefined;
  const cached: CachedTopology = {};
  if (typeof item.topology === 'string') {
    try {
      const parsed = ClusterTopologySchema.safeParse(JSON.parse(item.topology));
      if (parsed.success) cached.topology = markParsed(ClusterTopologySchema, parsed.data);
    } catch {
      // not JSON: ignored like any malformed cache entry
    }
  }
  const observation = ObservationSchema.safeParse(item.observation);
  if (observation.success) cached.observation = observation.data;
  return { clusterId: item.clusterId, cached };
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
