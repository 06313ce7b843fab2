import type { Change } from '../../core/change';
import { DuctError } from '../../core/errors';
import { parseLsn } from '../../core/lsn';
import type { BackfillRuntime } from '../../pipeline/backfillRuntime';
import { dropChunkRead, type ChunkRead } from '../../pipeline/chunkRead';
import type { RelationState } from '../../source/postgres/schema/relationState';
import { snapshotSeqAt, type PartitionTask } from '../../source/postgres/snapshot/partitions';
import type { SnapshotRef } from './types';

/**
 * Writes a chunk as read to every destination of the flow and returns its row count: decoded
 * rows as one batch; a CSV file loaded by the destinations (its rows at the snapshot position of
 * the decoded path: commit LSN `rowsLsn`, the snapshot LSN as end, seq of the chunk's first
 * block), the file removed afterwards. When a destination refuses the file's values for good (a
 * value its reader cannot load exactly: a BC date, a line too long), the chunk is read again as
 * decoded rows (`readRows`, same snapshot) and written that way, with that path's result.
 */
export async function writeChunkRead(
  rt: BackfillRuntime,
  flowId: string,
  rel: RelationState,
  part: PartitionTask,
  chunk: number,
  snap: SnapshotRef,
  read: ChunkRead,
  readRows: () => Promise<Change[]>,
): Promise<number> {
  if (read.kind === 'rows') {
    await writeRows(rt, flowId, rel, read.changes);
    return read.changes.length;
  }
  try {
    if (read.rows > 0) {
      const position = {
        commitLsn: parseLsn(snap.rowsLsn ?? snap.lsn),
        commitEndLsn: parseLsn(snap.lsn),
        seq: snapshotSeqAt(part, chunk * part.blocksPerChunk, 0),
        commitTimeMicros: BigInt(snap.timeMicros),
      };
      await rt.writeSnapshotFile({ path: read.path, table: rel.schema, rows: read.rows, position });
    }
    return read.rows;
  } catch (e) {
    if (!(e instanceof DuctError) || e.retry !== 'never') throw e;
    rt.log.warn('a backfill chunk did not load from its CSV file; writing it as decoded rows', { table: rel.key, chunk, error: e.message });
  } finally {
    await dropChunkRead(read);
  }
  const changes = await readRows();
  await writeRows(rt, flowId, rel, changes);
  return changes.length;
}

async function writeRows(rt: BackfillRuntime, flowId: string, rel: RelationState, changes: Change[]): Promise<void> {
  if (changes.length === 0) return;
  await rt.write({ flowId, changes, schemas: new Map([[rel.key, rel.schema]]), firstLsn: changes[0]!.lsn, checkpointLsn: changes[0]!.commitLsn });
}
