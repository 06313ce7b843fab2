import { parseLsn, type Lsn } from '../../core/lsn';
import { connectClient, endQuietly } from './connect';

/**
 * The end of the WAL the server has written so far: every transaction committed before the call
 * ends at or before it, however it committed. Not the flushed position
 * (`pg_current_wal_flush_lsn()`): with `synchronous_commit = off` a commit returns before its WAL
 * is flushed, and the WAL writer flushes it up to a few `wal_writer_delay`s later; a logical
 * replication stream delivers it only then. Read as {@link recordEndOf} the server's insert position.
 */
export async function currentWalEnd(dsn: string): Promise<Lsn> {
  const client = await connectClient(dsn, 'source.options.dsn', { connectTimeoutMs: 5000 });
  try {
    const r = await client.query<{ lsn: string; block: number }>(
      "SELECT pg_current_wal_insert_lsn()::text AS lsn, current_setting('wal_block_size')::int AS block",
    );
    return recordEndOf(parseLsn(r.rows[0]!.lsn), r.rows[0]!.block);
  } finally {
    await endQuietly(client);
  }
}

/** The largest WAL page header: a segment's first page (the others have 24 bytes). */
const LONG_PAGE_HEADER = 40n;

/**
 * An insert position (`pg_current_wal_insert_lsn()`) as the end of the WAL records before it, the
 * form of the positions a replication stream reports (commit ends, keepalive WAL ends). They differ
 * at a page boundary: the insert position is then past the new page's header, where the next record
 * will start, while the last record ends at the page start. So a position at most 40 bytes into a
 * page is taken as the page start. That loses nothing: a record starts after a header and is at
 * least 24 bytes long, so below such a position the page holds at most the end of one record begun
 * on an earlier page, and a stream position (a record boundary) at or past the page start is at or
 * past that end too.
 */
export function recordEndOf(insertLsn: Lsn, blockSize: number): Lsn {
  const intoPage = insertLsn % BigInt(blockSize);
  return intoPage > 0n && intoPage <= LONG_PAGE_HEADER ? insertLsn - intoPage : insertLsn;
}
