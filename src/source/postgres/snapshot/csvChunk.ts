import { open, rm } from 'node:fs/promises';
import type { Client } from 'pg';
import { describeError } from '../../../core/errors';
import { copyOut } from './copyOut';
import { chunkQuery, type PartitionTask } from './partitions';

/** Bytes gathered before they are written to the file (COPY hands over one row at a time). */
const WRITE_BYTES = 1 << 20;

/**
 * Reads one chunk of a partition on `client` (inside the caller's transaction and snapshot) with
 * `COPY (SELECT <columns> …) TO STDOUT (FORMAT csv, FORCE_QUOTE *)` into a new file at `path`:
 * the table's columns in order, every non-NULL value quoted, NULL unquoted and empty (so NULL and
 * the empty string differ), dates in ISO style and timestamps with time zone in UTC (set for the
 * transaction only). Resolves with the number of rows; on failure removes the file and rejects.
 */
export async function readChunkToCsv(client: Client, part: PartitionTask, chunk: number, path: string): Promise<number> {
  await client.query(`SET LOCAL TimeZone TO 'UTC'; SET LOCAL DateStyle TO 'ISO, YMD'`);
  const file = await open(path, 'wx', 0o600);
  let ok = false;
  try {
    let buf = Buffer.allocUnsafe(WRITE_BYTES);
    let used = 0;
    let writing: Promise<unknown> = Promise.resolve();
    let failed: Error | undefined;
    const flush = (): void => {
      const out = buf.subarray(0, used);
      buf = Buffer.allocUnsafe(Math.max(WRITE_BYTES, buf.length));
      used = 0;
      writing = writing.then(() => file.write(out)).catch((e: unknown) => (failed ??= e instanceof Error ? e : new Error(describeError(e))));
    };
    const rows = await copyOut(client, `COPY (${chunkQuery(part, chunk, false)}) TO STDOUT (FORMAT csv, FORCE_QUOTE *)`, (data, start, end) => {
      const n = end - start;
      if (used + n > buf.length) {
        flush();
        if (n > buf.length) buf = Buffer.allocUnsafe(n);
      }
      data.copy(buf, used, start, end);
      used += n;
    });
    flush();
    await writing;
    if (failed !== undefined) throw failed;
    ok = true;
    return rows;
  } finally {
    await file.close();
    if (!ok) await rm(path, { force: true });
  }
}
