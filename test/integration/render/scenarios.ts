import type { RenderInput } from '../../../functions/render/render-bundle';
import {
  clusterMembers,
  member,
  registryCluster,
  topologies,
  topology,
} from '../../unit/render/fixtures';

/**
 * Representative render inputs. Each one's output is committed under golden/ as
 * <name>.haproxy.cfg, <name>.pgbouncer-databases.ini and <name>.bundle.json (a real bundle
 * other teams can load in their tests).
 */
export interface Scenario {
  name: string;
  what: string;
  input: () => RenderInput;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'writer-endpoint',
    what: 'a writer endpoint (issue 12): its listener holds every member, its alias in transaction mode',
    input: () => ({
      clusters: [
        registryCluster('ledger', 5436, {
          excludeInstances: ['ledger-reader-2'],
          writer: { alias: 'ledger_rw', dbname: 'ledger', port: 5437, poolMode: 'transaction' },
        }),
      ],
      topologies: topologies(topology('ledger', clusterMembers(4, 2, 'ledger'))),
    }),
  },
  {
    name: 'agent-one-cluster',
    what: 'one cluster, agent checks, a writer and three readers',
    input: () => ({
      clusters: [registryCluster('orders', 5433)],
      topologies: topologies(topology('orders', clusterMembers(1, 3, 'orders'))),
    }),
  },
  {
    name: 'external-check',
    what: 'one cluster, external checks (postgresqlchk), roundrobin, lag bound',
    input: () => ({
      clusters: [
        registryCluster('billing', 5434, {
          checkMode: 'external',
          balance: 'roundrobin',
          maxReplicaLagMs: 500,
        }),
      ],
      topologies: topologies(topology('billing', clusterMembers(2, 2, 'billing'))),
    }),
  },
  {
    name: 'fallback-to-writer',
    what: 'writer as backup w1, instance-class weights over mixed classes',
    input: () => ({
      clusters: [
        registryCluster('catalog', 5435, { fallbackToWriter: true, weights: 'instance-class' }),
      ],
      topologies: topologies(
        topology('catalog', [
          member('catalog-writer', '10.3.0.1', { isWriter: true, instanceClass: 'db.r6g.2xlarge' }),
          member('catalog-reader-1', '10.3.0.10', { instanceClass: 'db.r6g.large' }),
          member('catalog-reader-2', '10.3.0.11', { instanceClass: 'db.r6g.4xlarge' }),
        ]),
      ),
    }),
  },
  {
    name: 'excluded-instance',
    what: 'an excluded analytics reader and readers whose status cannot serve',
    input: () => ({
      clusters: [registryCluster('events', 5436, { excludeInstances: ['events-analytics'] })],
      topologies: topologies(
        topology('events', [
          ...clusterMembers(4, 2, 'events'),
          member('events-analytics', '10.4.0.50', { instanceClass: 'db.r6g.8xlarge' }),
          member('events-new', '10.4.0.51', { status: 'creating' }),
          member('events-stopped', '10.4.0.52', { status: 'stopped' }),
        ]),
      ),
    }),
  },
  {
    name: 'three-clusters',
    what: 'three clusters with several aliases, RDS host names, and a stale topology',
    input: () => ({
      clusters: [
        registryCluster('zeta-prod', 6001, {}, [
          { alias: 'zeta', dbname: 'zeta' },
          { alias: 'zeta_reports', dbname: 'reports' },
        ]),
        registryCluster('alpha-prod', 6000, { checkMode: 'external', fallbackToWriter: true }),
        registryCluster('mid-prod', 6002, { balance: 'random' }),
      ],
      topologies: topologies(
        topology('zeta-prod', [
          member('zeta-1', 'zeta-1.abcdefghijkl.eu-west-1.rds.amazonaws.com', { isWriter: true }),
          member('zeta-2', 'zeta-2.abcdefghijkl.eu-west-1.rds.amazonaws.com', { az: 'eu-west-1b' }),
          member('zeta-3', 'zeta-3.abcdefghijkl.eu-west-1.rds.amazonaws.com', { az: 'eu-west-1c' }),
        ]),
        topology('alpha-prod', clusterMembers(6, 5, 'alpha')),
        topology('mid-prod', clusterMembers(7, 1, 'mid'), {
          stale: true,
          problem: 'DescribeDBInstances throttled; serving the last known topology',
        }),
      ),
    }),
  },
  {
    name: 'az-affinity',
    what: 'azAffinity with fallbackToWriter and slow start: readers in two zones, one of unknown zone, spares',
    input: () => ({
      clusters: [
        registryCluster('geo', 5438, {
          azAffinity: true,
          fallbackToWriter: true,
          slowStartMs: 10_000,
        }),
      ],
      topologies: topologies(
        topology('geo', [
          member('geo-writer', '10.9.0.1', { isWriter: true, az: 'eu-west-1a' }),
          member('geo-a1', '10.9.0.10', { az: 'eu-west-1a' }),
          member('geo-a2', '10.9.0.11', { az: 'eu-west-1a' }),
          member('geo-b1', '10.9.0.12', { az: 'eu-west-1b' }),
          member('geo-x', '10.9.0.13', { az: undefined }),
        ]),
      ),
    }),
  },
  {
    name: 'empty-cluster',
    what: 'a cluster with a writer and no reader: every reader slot is spare',
    input: () => ({
      clusters: [registryCluster('lonely', 5437)],
      topologies: topologies(topology('lonely', clusterMembers(8, 0, 'lonely'))),
    }),
  },
];
