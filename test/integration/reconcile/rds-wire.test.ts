import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryTopologyCache } from '@aurora-haproxy/test-support/rds-fixtures';
import { RecordingMetrics } from '@aurora-haproxy/test-support/recording';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../../functions/shared/observability';
import { fetchTopologies, type TopologyDeps } from '../../../functions/topology/fetch-topologies';
import { createRdsClient } from '../../../functions/topology/rds-client';

/**
 * The topology adapter with the real RDS SDK client (its query-protocol serializer, XML
 * deserializer, retry strategy and request timeout) against a small HTTP server on
 * loopback that answers like RDS: paginated XML, Throttling, 500s, or never.
 */
type Mode = 'ok' | 'throttle' | 'internal' | 'hang';
let mode: Mode = 'ok';
const requests: URLSearchParams[] = [];
let server: Server;
let endpoint: string;
const hanging: ServerResponse[] = [];

const NS = 'http://rds.amazonaws.com/doc/2014-10-31/';

function member(id: string, writer: boolean, tier: number) {
  return `<DBClusterMember><DBInstanceIdentifier>${id}</DBInstanceIdentifier><IsClusterWriter>${writer}</IsClusterWriter><DBClusterParameterGroupStatus>in-sync</DBClusterParameterGroupStatus><PromotionTier>${tier}</PromotionTier></DBClusterMember>`;
}

function instance(id: string, az: string) {
  return `<DBInstance><DBInstanceIdentifier>${id}</DBInstanceIdentifier><DBInstanceClass>db.r6g.large</DBInstanceClass><Engine>aurora-postgresql</Engine><DBInstanceStatus>available</DBInstanceStatus><Endpoint><Address>${id}.c9akciq32.eu-west-1.rds.amazonaws.com</Address><Port>5432</Port><HostedZoneId>Z29XKXDKYMONMX</HostedZoneId></Endpoint><AvailabilityZone>${az}</AvailabilityZone><DBClusterIdentifier>orders</DBClusterIdentifier><DBInstanceArn>arn:aws:rds:eu-west-1:123456789012:db:${id}</DBInstanceArn></DBInstance>`;
}

function answer(params: URLSearchParams): string {
  const action = params.get('Action');
  const marker = params.get('Marker');
  if (action === 'DescribeDBClusters') {
    const cluster = `<DBCluster><DBClusterIdentifier>orders</DBClusterIdentifier><Status>available</Status><Engine>aurora-postgresql</Engine><EngineVersion>15.4</EngineVersion><Port>5432</Port><Endpoint>orders.cluster-c9akciq32.eu-west-1.rds.amazonaws.com</Endpoint><DBClusterMembers>${member('orders-1', true, 1)}${member('orders-2', false, 2)}${member('orders-3', false, 3)}</DBClusterMembers><DBClusterArn>arn:aws:rds:eu-west-1:123456789012:cluster:orders</DBClusterArn></DBCluster>`;
    return `<DescribeDBClustersResponse xmlns="${NS}"><DescribeDBClustersResult><DBClusters>${cluster}</DBClusters></DescribeDBClustersResult><ResponseMetadata><RequestId>d3b2a1c0-0000-4000-8000-000000000001</RequestId></ResponseMetadata></DescribeDBClustersResponse>`;
  }
  // Two pages of instances: the first carries a Marker.
  const page =
    marker === 'page-2'
      ? instance('orders-3', 'eu-west-1c')
      : instance('orders-1', 'eu-west-1a') + instance('orders-2', 'eu-west-1b');
  const next = marker === 'page-2' ? '' : '<Marker>page-2</Marker>';
  return `<DescribeDBInstancesResponse xmlns="${NS}"><DescribeDBInstancesResult>${next}<DBInstances>${page}</DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>d3b2a1c0-0000-4000-8000-000000000002</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`;
}

function errorXml(code: string, message: string, type: 'Sender' | 'Receiver') {
  return `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>d3b2a1c0-0000-4000-8000-0000000000ff</RequestId></ErrorResponse>`;
}

function handle(req: IncomingMessage, res: ServerResponse) {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    const params = new URLSearchParams(body);
    requests.push(params);
    if (mode === 'hang') {
      hanging.push(res);
      return;
    }
    res.setHeader('content-type', 'text/xml');
    if (mode === 'throttle') {
      res.statusCode = 400;
      res.end(errorXml('Throttling', 'Rate exceeded', 'Sender'));
    } else if (mode === 'internal') {
      res.statusCode = 500;
      res.end(errorXml('InternalFailure', 'An internal error has occurred', 'Receiver'));
    } else {
      res.end(answer(params));
    }
  });
}

const cache = new MemoryTopologyCache();
function deps(): TopologyDeps {
  return {
    rds: createRdsClient({
      endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 3,
      requestHandler: {
        requestTimeout: 300,
        connectionTimeout: 1_000,
        throwOnRequestTimeout: true,
      },
    }),
    cache,
    log: silentLog,
    metrics: new RecordingMetrics(),
    now: () => new Date(),
  };
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  requests.length = 0;
});

describe('topology over the RDS query protocol', () => {
  it('sends db-cluster-id filters, follows the Marker, and maps the XML answer', async () => {
    // Act
    mode = 'ok';
    const report = await fetchTopologies(deps(), ['orders']);

    // Assess
    expect(
      requests.map((r) => `${r.get('Action')} ${r.get('Marker') ?? ''}`.trim()).sort(),
    ).toEqual(['DescribeDBClusters', 'DescribeDBInstances', 'DescribeDBInstances page-2']);
    for (const r of requests) {
      expect(r.get('Filters.Filter.1.Name')).toBe('db-cluster-id');
      expect(r.get('Filters.Filter.1.Values.Value.1')).toBe('orders');
    }
    const topology = report.topologies.get('orders');
    expect(topology?.stale).toBe(false);
    expect(topology?.members.map((m) => [m.instanceId, m.isWriter, m.port, m.az])).toEqual([
      ['orders-1', true, 5432, 'eu-west-1a'],
      ['orders-2', false, 5432, 'eu-west-1b'],
      ['orders-3', false, 5432, 'eu-west-1c'],
    ]);
  });

  it.each([
    ['throttle', 'Throttling'],
    ['internal', 'InternalFailure'],
  ] as const)(
    'retries a %s answer with backoff, then serves the last known topology',
    async (m, code) => {
      // Act
      mode = m;
      const report = await fetchTopologies(deps(), ['orders']);

      // Assess: every operation was attempted maxAttempts (3) times by the SDK
      expect(requests.filter((r) => r.get('Action') === 'DescribeDBClusters')).toHaveLength(3);
      const topology = report.topologies.get('orders');
      expect(topology).toMatchObject({ stale: true });
      expect(topology?.problem).toContain(code);
      expect(topology?.members).toHaveLength(3);
    },
  );

  it('cuts off an RDS that never answers and serves the last known topology', async () => {
    // Act
    mode = 'hang';
    const started = Date.now();
    const report = await fetchTopologies(deps(), ['orders']);
    const elapsed = Date.now() - started;

    // Assess: 3 attempts of 300 ms plus backoff, far below a Lambda timeout
    expect(elapsed).toBeLessThan(10_000);
    expect(report.topologies.get('orders')).toMatchObject({ stale: true });
    expect(report.topologies.get('orders')?.problem).toMatch(/Timeout/i);
    expect(report.topologies.get('orders')?.members).toHaveLength(3);
  });
});
