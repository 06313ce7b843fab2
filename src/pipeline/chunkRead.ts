import { rm } from 'node:fs/promises';
import type { Change } from '../core/change';

/**
 * A backfill chunk as read: decoded `read` changes, or a CSV file of its rows for destinations
 * that load files themselves (see `SnapshotFileLoading`); the file belongs to whoever holds the read.
 */
export type ChunkRead = { kind: 'rows'; changes: Change[] } | { kind: 'csv'; path: string; rows: number };

/** Removes the file of a chunk read into one (a read-ahead never taken, or a chunk written); nothing for rows. */
export async function dropChunkRead(c: ChunkRead): Promise<void> {
  if (c.kind === 'csv') await rm(c.path, { force: true });
}
