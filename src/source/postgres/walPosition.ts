import { parseLsn, type Lsn } from '../../core/lsn';
import { connectClient, endQuietly } from './connect';

/** The server's flushed WAL end (`pg_current_wal_flush_lsn()`), i.e. the newest durable commit. */
export async function currentFlushLsn(dsn: string): Promise<Lsn> {
  const client = await connectClient(dsn, 'source.options.dsn', { connectTimeoutMs: 5000 });
  try {
    const r = await client.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn');
    return parseLsn(r.rows[0]!.lsn);
  } finally {
    await endQuietly(client);
  }
}
