import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { type FaultKind, FaultSwitch } from '../aws-standin/faults';
import { type HttpAnswer, type HttpRequest, startHttpServer } from '../aws-standin/http-server';
import {
  paginate,
  parseQueryBody,
  QueryError,
  type QueryFilter,
  type QueryParams,
  queryErrorXml,
  queryResponse,
  rdsFilters,
} from '../aws-standin/query-protocol';
import { el, val } from '../aws-standin/xml';
import {
  clusterArn,
  dbClusterXml,
  dbInstanceXml,
  instanceArn,
  RDS_NAMESPACE,
} from './describe-xml';
import type { SimulatedClusterView, TopologySource } from './topology-source';

/**
 * RDS API stand-in: DescribeDBClusters and DescribeDBInstances over the Query protocol, answered
 * from a topology source (live PostgreSQL nodes in the local stack), so the real
 * @aws-sdk/client-rds runs unchanged with only AWS_ENDPOINT_URL_RDS pointing here.
 * Filters (db-cluster-id, db-instance-id, engine), DBClusterIdentifier / DBInstanceIdentifier,
 * MaxRecords (20-100) and Marker behave as RDS documents them; a fault switch answers with
 * Throttling (400) or InternalFailure (500), and every call is counted.
 */
export interface RdsStandin {
  endpoint: string;
  faults: FaultSwitch;
  close(): Promise<void>;
}

export async function startRdsStandin(source: TopologySource, port = 0): Promise<RdsStandin> {
  const faults = new FaultSwitch();
  const server = await startHttpServer('rds', (request) => handle(request, source, faults), port);
  return { endpoint: server.endpoint, faults, close: server.close };
}

const XML = 'text/xml';

async function handle(
  request: HttpRequest,
  source: TopologySource,
  faults: FaultSwitch,
): Promise<HttpAnswer> {
  try {
    if (request.method !== 'POST') throw new QueryError(400, 'InvalidAction', 'use POST');
    const params = parseQueryBody(request.body);
    const action = params.get('Action') ?? '';
    const fault = faults.onRequest(action);
    if (fault) throw faultError(fault);
    switch (action) {
      case 'DescribeDBClusters':
        return ok(action, await describeClusters(params, source));
      case 'DescribeDBInstances':
        return ok(action, await describeInstances(params, source));
      default:
        throw new QueryError(
          400,
          'InvalidAction',
          `the action ${action || '(none)'} is not valid for this web service`,
        );
    }
  } catch (error) {
    if (error instanceof QueryError) {
      return {
        status: error.httpStatus,
        contentType: XML,
        body: queryErrorXml(RDS_NAMESPACE, error),
      };
    }
    const failure = new QueryError(500, 'InternalFailure', errorMessage(error));
    return { status: 500, contentType: XML, body: queryErrorXml(RDS_NAMESPACE, failure) };
  }
}

function ok(action: string, result: string): HttpAnswer {
  return { status: 200, contentType: XML, body: queryResponse(action, RDS_NAMESPACE, result) };
}

export function faultError(kind: FaultKind): QueryError {
  return kind === 'throttle'
    ? new QueryError(400, 'Throttling', 'Rate exceeded')
    : new QueryError(
        500,
        'InternalFailure',
        'An internal error has occurred. Please try your query again at a later time.',
      );
}

function pageSize(params: QueryParams): number {
  const raw = params.get('MaxRecords');
  if (raw === undefined) return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 20 || n > 100) {
    throw new QueryError(
      400,
      'InvalidParameterValue',
      `MaxRecords must be between 20 and 100, got ${raw}`,
    );
  }
  return n;
}

/** Values of a cluster-id filter may be identifiers or ARNs; identifiers compare lowercased. */
function idMatcher(filter: QueryFilter, arn: (id: string) => string): (id: string) => boolean {
  const wanted = new Set(filter.values.map((v) => v.toLowerCase()));
  return (id) => wanted.has(id.toLowerCase()) || wanted.has(arn(id).toLowerCase());
}

function checkFilters(filters: QueryFilter[], allowed: readonly string[]): void {
  for (const f of filters) {
    if (!allowed.includes(f.name)) {
      throw new QueryError(400, 'InvalidParameterValue', `Unrecognized filter name: ${f.name}`);
    }
    if (f.values.length === 0) {
      throw new QueryError(
        400,
        'InvalidParameterCombination',
        `filter ${f.name} needs at least one value`,
      );
    }
  }
}

async function describeClusters(params: QueryParams, source: TopologySource): Promise<string> {
  const filters = rdsFilters(params);
  checkFilters(filters, ['db-cluster-id', 'engine']);
  const size = pageSize(params);
  let clusters = await source.clusters();
  const id = params.get('DBClusterIdentifier');
  if (id !== undefined) {
    clusters = clusters.filter(
      (c) => c.clusterId === id.toLowerCase() || clusterArn(c.clusterId) === id,
    );
    if (clusters.length === 0) {
      throw new QueryError(404, 'DBClusterNotFoundFault', `DBCluster ${id} not found.`);
    }
  }
  clusters = applyClusterFilters(clusters, filters);
  const { page, next } = paginate(clusters, params.get('Marker'), size);
  return [val('Marker', next), el('DBClusters', ...page.map(dbClusterXml))]
    .filter(Boolean)
    .join('');
}

function applyClusterFilters(clusters: SimulatedClusterView[], filters: QueryFilter[]) {
  let out = clusters;
  for (const f of filters) {
    if (f.name === 'db-cluster-id') {
      const match = idMatcher(f, clusterArn);
      out = out.filter((c) => match(c.clusterId));
    } else if (f.name === 'engine') {
      out = out.filter(() => f.values.includes('aurora-postgresql'));
    }
  }
  return out;
}

async function describeInstances(params: QueryParams, source: TopologySource): Promise<string> {
  const filters = rdsFilters(params);
  checkFilters(filters, ['db-cluster-id', 'db-instance-id', 'engine']);
  const size = pageSize(params);
  let rows = (await source.clusters()).flatMap((c) =>
    c.instances.map((instance) => ({ clusterId: c.clusterId, instance })),
  );
  const id = params.get('DBInstanceIdentifier');
  if (id !== undefined) {
    rows = rows.filter(
      (r) =>
        r.instance.instanceId === id.toLowerCase() || instanceArn(r.instance.instanceId) === id,
    );
    if (rows.length === 0)
      throw new QueryError(404, 'DBInstanceNotFound', `DBInstance ${id} not found.`);
  }
  for (const f of filters) {
    if (f.name === 'db-cluster-id') {
      const match = idMatcher(f, clusterArn);
      rows = rows.filter((r) => match(r.clusterId));
    } else if (f.name === 'db-instance-id') {
      const match = idMatcher(f, instanceArn);
      rows = rows.filter((r) => match(r.instance.instanceId));
    } else if (f.name === 'engine') {
      rows = rows.filter(() => f.values.includes('aurora-postgresql'));
    }
  }
  const { page, next } = paginate(rows, params.get('Marker'), size);
  return [
    val('Marker', next),
    el('DBInstances', ...page.map((r) => dbInstanceXml(r.clusterId, r.instance))),
  ]
    .filter(Boolean)
    .join('');
}
