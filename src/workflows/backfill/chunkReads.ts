import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableKey } from '../../core/change';
import { parseLsn } from '../../core/lsn';
import type { BackfillRuntime } from '../../pipeline/backfillRuntime';
import { dropChunkRead, type ChunkRead } from '../../pipeline/chunkRead';
import type { RelationState } from '../../source/postgres/schema/relationState';
import { isSnapshotGone } from '../../source/postgres/snapshot/exported';
import type { PartitionTask } from '../../source/postgres/snapshot/partitions';
import { readChunkToCsv } from '../../source/postgres/snapshot/csvChunk';
import { readChunk } from '../../source/postgres/snapshot/reader';
import type { SnapshotRef } from './types';

const SNAPSHOT_NAME = /^[0-9A-F-]+$/i;

/** The read-ahead slot of a partition of a backfill (one per partition: at most one chunk ahead). */
export function chunkReadKey(backfillId: string, part: PartitionTask): string {
  return `${backfillId}\u0000${tableKey(part.table)}\u0000${part.kind}:${part.index}`;
}

/**
 * Reads chunk `chunk` of a partition in a read-only REPEATABLE READ transaction under the
 * backfill's exported snapshot, or under a fresh one once that snapshot is known gone (its process
 * ended; logged once per runtime): rows are positioned at the snapshot either way (see `copyChunk`).
 * With `csv`, the chunk goes to a new temporary file as PostgreSQL's CSV instead of decoded rows.
 */
export async function readChunkUnderSnapshot(
  rt: BackfillRuntime,
  backfillId: string,
  rel: RelationState,
  part: PartitionTask,
  chunk: number,
  snap: SnapshotRef,
  csv = false,
): Promise<ChunkRead> {
  const client = await rt.pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (snap.name !== null && SNAPSHOT_NAME.test(snap.name) && !rt.goneSnapshots.has(snap.name)) {
      try {
        await client.query(`SET TRANSACTION SNAPSHOT '${snap.name}'`);
      } catch (e) {
        if (!isSnapshotGone(e)) throw e;
        rt.goneSnapshots.add(snap.name);
        rt.log.warn('the exported snapshot is gone (its process ended); reading under fresh snapshots, converging through the stream', {
          backfill: backfillId,
          snapshot: snap.name,
        });
        await client.query('ROLLBACK');
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      }
    }
    let read: ChunkRead;
    if (csv) {
      const path = join(tmpdir(), `ductstream-chunk-${process.pid}-${randomUUID()}.csv`);
      read = { kind: 'csv', path, rows: await readChunkToCsv(client, part, chunk, path) };
    } else {
      const changes = await readChunk(client, rel, part, chunk, {
        lsn: parseLsn(snap.rowsLsn ?? snap.lsn),
        snapshotLsn: parseLsn(snap.lsn),
        timeMicros: BigInt(snap.timeMicros),
      });
      read = { kind: 'rows', changes };
    }
    try {
      await client.query('COMMIT');
    } catch (e) {
      await dropChunkRead(read);
      throw e;
    }
    return read;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
