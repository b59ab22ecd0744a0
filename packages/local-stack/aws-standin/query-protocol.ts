import { randomUUID } from 'node:crypto';
import { el, val, xmlDocument } from './xml';

/**
 * The AWS Query protocol as the RDS and Auto Scaling APIs speak it: a form-encoded POST with
 * Action, Version and flattened parameters (`Filters.Filter.1.Values.Value.2=x`); an XML answer
 * `<{Action}Response><{Action}Result>…</{Action}Result><ResponseMetadata>…` or an
 * `<ErrorResponse>` with the HTTP status of the error.
 */
export type QueryParams = ReadonlyMap<string, string>;

export function parseQueryBody(body: string): QueryParams {
  return new Map(new URLSearchParams(body).entries());
}

/**
 * Values of a flattened list: `prefix.1`, `prefix.2`, … in order (member name included in
 * the prefix, e.g. `AutoScalingGroupNames.member`, `Filters.Filter.1.Values.Value`).
 */
export function listParam(params: QueryParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; params.has(`${prefix}.${i}`); i++)
    out.push(params.get(`${prefix}.${i}`) as string);
  return out;
}

export interface QueryFilter {
  name: string;
  values: string[];
}

/** RDS filters: Filters.Filter.N.Name + Filters.Filter.N.Values.Value.M. */
export function rdsFilters(params: QueryParams): QueryFilter[] {
  const filters: QueryFilter[] = [];
  for (let i = 1; params.has(`Filters.Filter.${i}.Name`); i++) {
    filters.push({
      name: params.get(`Filters.Filter.${i}.Name`) as string,
      values: listParam(params, `Filters.Filter.${i}.Values.Value`),
    });
  }
  return filters;
}

export function queryResponse(action: string, namespace: string, resultXml: string): string {
  return xmlDocument(
    `${action}Response`,
    namespace,
    el(`${action}Result`, resultXml),
    el('ResponseMetadata', val('RequestId', randomUUID())),
  );
}

/** An AWS error as the Query protocol returns it (the SDK reads Code and Message). */
export class QueryError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = httpStatus >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

export function queryErrorXml(namespace: string, error: QueryError): string {
  return xmlDocument(
    'ErrorResponse',
    namespace,
    el('Error', val('Type', error.type), val('Code', error.code), val('Message', error.message)),
    val('RequestId', randomUUID()),
  );
}

/** Offset-based pagination with an opaque marker, as RDS Marker / Auto Scaling NextToken. */
export function paginate<T>(
  items: readonly T[],
  marker: string | undefined,
  pageSize: number,
): { page: T[]; next?: string } {
  let start = 0;
  if (marker !== undefined && marker !== '') {
    const decoded = Number(Buffer.from(marker, 'base64url').toString('utf8'));
    if (!Number.isInteger(decoded) || decoded < 0) {
      throw new QueryError(400, 'InvalidParameterValue', `invalid marker: ${marker}`);
    }
    start = decoded;
  }
  const page = items.slice(start, start + pageSize);
  const nextStart = start + pageSize;
  return nextStart < items.length
    ? { page, next: Buffer.from(String(nextStart), 'utf8').toString('base64url') }
    : { page };
}
