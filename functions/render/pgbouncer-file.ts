import type { BundleCluster } from '@aurora-haproxy/contract/bundle';
import { sameData } from './same-data';
import { renderTemplate } from './templates';
import { clusterDatabases, databasesView, type PgbouncerDatabaseView } from './view-model';

/**
 * The bundle's PgBouncer [databases] include (templates/pgbouncer-databases.ini.hbs) for these
 * clusters. Its entries depend on each cluster's port, aliases, writer endpoint and pooling
 * options, not on its servers, so most ticks give the same entries as the render before:
 * then that render's file is returned (the template over every alias was 5 % of a tick at
 * 500 clusters, docs/BENCHMARKS.md figure 7). Exact: the file is a pure function of the
 * entries in this order, and the last file is reused only for the same entries (sameData).
 */
let last: { databases: readonly PgbouncerDatabaseView[]; file: string } | undefined;

export function pgbouncerDatabasesFile(clusters: readonly BundleCluster[]): string {
  const databases = clusters.flatMap(clusterDatabases);
  if (last !== undefined && sameData(last.databases, databases)) return last.file;
  const file = renderTemplate('pgbouncerDatabases', databasesView(databases));
  last = { databases, file };
  return file;
}
