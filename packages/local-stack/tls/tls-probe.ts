import type { TLSSocket } from 'node:tls';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import pg from 'pg';
import type { FleetInstance } from '../fleet';

/**
 * What a client of a simulated host sees of TLS (the demo's "TLS on both sides" stage and the
 * e2e proofs): a plaintext client is refused by PgBouncer, a client verifying PgBouncer's
 * certificate against the client CA gets in, and the server connection PgBouncer reads over
 * for it is TLS too (pg_stat_ssl of the reader's backend that answers).
 */
export interface TlsView {
  /** The refusal a plaintext client got, or undefined when it got in (TLS not required). */
  plaintextRefusal: string | undefined;
  /** The TLS protocol of the verified client connection to PgBouncer (e.g. TLSv1.3). */
  clientProtocol: string | undefined;
  /** The reader's view of the PgBouncer -> HAProxy -> reader connection. */
  server: { ssl: boolean; version: string | null; port: number };
}

export async function tlsView(instance: FleetInstance, database: string): Promise<TlsView> {
  const target = {
    host: instance.host.listenAddress,
    port: instance.pgbouncerPort,
    database,
    user: 'postgres',
    connectionTimeoutMillis: 5000,
  };
  let plaintextRefusal: string | undefined;
  const plain = new pg.Client({ ...target, ssl: false });
  plain.on('error', () => undefined);
  try {
    await plain.connect();
    await plain.query('SELECT 1');
  } catch (error) {
    plaintextRefusal = errorMessage(error);
  } finally {
    await plain.end().catch(() => undefined);
  }
  if (!instance.clientSsl) throw new Error(`${instance.instanceId} serves no client TLS`);
  const secure = new pg.Client({ ...target, ssl: instance.clientSsl });
  secure.on('error', () => undefined);
  try {
    await secure.connect();
    const stream = (secure as unknown as { connection: { stream: TLSSocket } }).connection.stream;
    const row = (
      await secure.query<{ ssl: boolean; version: string | null; port: number }>(
        'SELECT s.ssl, s.version, inet_server_port() AS port FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()',
      )
    ).rows[0];
    if (!row) throw new Error('pg_stat_ssl has no row for the serving backend');
    return {
      plaintextRefusal,
      clientProtocol:
        typeof stream.getProtocol === 'function' ? (stream.getProtocol() ?? undefined) : undefined,
      server: { ssl: row.ssl, version: row.version, port: Number(row.port) },
    };
  } finally {
    await secure.end().catch(() => undefined);
  }
}
