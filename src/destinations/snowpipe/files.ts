import { createHash } from 'node:crypto';
import { Table, Utf8, vectorFromArray } from 'apache-arrow';
import { tableToIPC } from 'apache-arrow';
import type { Change, Row, TableRef } from '../../core/change';
import { epochMicrosToTimestamp } from '../../core/time';
import type { TableLayout } from '../sql/layout';
import { keyIdOf } from '../sql/row-key';
import { textConverter } from '../snowflake/values';
import type { DeleteDecisions } from '../keyChanges';
import { positionKey } from '../keyMoves';
import type { SnowpipeFormat } from './config';

/**
 * The name of the file holding `changes` of one table: `<first>_<last>.<ext>` where each position
 * is the commit LSN (16 hex digits) and seq (10 digits), so names sort by stream position and a
 * replayed batch gets the same name (and, encoded deterministically, the same bytes: Snowflake's
 * load history then skips it). Under `stage_path/<schema>.<table>/`.
 */
export function fileName(changes: Change[], format: SnowpipeFormat): string {
  const first = changes[0]!;
  const last = changes[changes.length - 1]!;
  // Snapshot rows (backfill) have negative seqs: `r` and the magnitude, so names stay plain and unique.
  const seq = (s: number): string => (s < 0 ? `r${String(-s).padStart(19, '0')}` : String(s).padStart(10, '0'));
  const pos = (c: Change): string => `${c.commitLsn.toString(16).padStart(16, '0')}_${seq(c.seq)}`;
  return `${pos(first)}_${pos(last)}.${format === 'json' ? 'json' : format}`;
}

export function filePath(stagePath: string, source: TableRef): string {
  const dir = `${source.schema}.${source.name}`;
  return stagePath === '' ? dir : `${stagePath}/${dir}`;
}

/**
 * One record per change, column name → text (NULL as null): the row (the new row of inserts and
 * updates, the old row or key of deletes) in the text forms Snowflake converts on COPY, then the
 * layout's metadata columns (operation, deleted flag, synced-at, watermark, position) when
 * `append_mode`/`meta_enabled` ask for them. Snapshot rows (backfill, `op: 'read'`) are rows like
 * inserts. Without metadata, deletes and truncates have no row to append and are left out. An update that changes the primary key is preceded by a `delete`
 * record of the old key at the same position (with metadata only), unless `keyMoves` leaves it
 * out or replaces it by the source's row at that key (a `read` record). Changes come with their unchanged TOAST values completed (see `rowImages.ts`).
 */
export function fileRecords(
  layout: TableLayout,
  changes: readonly Change[],
  withMetadata: boolean,
  syncedAtMicros: bigint,
  /** Delete records left out or replaced by the source's row, for key moves of a DEFERRABLE key (see `eventsWithSource`). */
  keyMoves: DeleteDecisions = NO_DECISIONS,
): Record<string, string | null>[] {
  const converters = layout.columns.map((c) => textConverter(c.load));
  const idOf = layout.key.length > 0 ? keyIdOf(layout.key) : undefined;
  const out: Record<string, string | null>[] = [];
  const record = (c: Change, op: Change['op'], row: Row): void => {
    const rec: Record<string, string | null> = {};
    layout.columns.forEach((col, i) => {
      const v = row[col.name];
      rec[col.name] = v === undefined || v === null ? null : converters[i]!(v);
    });
    if (withMetadata) Object.assign(rec, metadataFields(layout, c, op, syncedAtMicros));
    out.push(rec);
  };
  for (const c of changes) {
    if (!withMetadata && c.op !== 'insert' && c.op !== 'update' && c.op !== 'read') continue;
    // A key change is a delete of the old key first (as on every event destination), so a consumer
    // keeping the latest record per key drops the old row.
    const pos = keyMoves.left.size > 0 || keyMoves.refreshed.size > 0 ? positionKey(c) : undefined;
    const kept = pos !== undefined && keyMoves.left.has(pos);
    // The key may still hold another row: the source's row there, instead of the delete.
    const refresh = pos !== undefined ? keyMoves.refreshed.get(pos) : undefined;
    if (withMetadata && refresh) record(refresh, 'read', refresh.after ?? {});
    else if (withMetadata && idOf && c.op === 'update' && c.before && c.after && idOf(c.before) !== idOf(c.after) && !kept) record(c, 'delete', c.before);
    if (c.op === 'delete' && (kept || refresh)) continue;
    record(c, c.op, c.op === 'delete' ? (c.before ?? c.key) : c.op === 'truncate' ? {} : (c.after ?? {}));
  }
  return out;
}

const NO_DECISIONS: DeleteDecisions = { left: new Set(), refreshed: new Map() };

/** The metadata columns of one record: operation, deleted flag, synced-at, watermark, position. */
function metadataFields(layout: TableLayout, c: Change, op: Change['op'], syncedAtMicros: bigint): Record<string, string> {
  const time = epochMicrosToTimestamp(c.commitTimeMicros, false) + '+00:00';
  const out: Record<string, string> = {};
  for (const m of layout.meta) {
    out[m.name] =
      m.role === 'op'
        ? op
        : m.role === 'deleted'
          ? String(op === 'delete' || op === 'truncate')
          : m.role === 'synced_at'
            ? epochMicrosToTimestamp(syncedAtMicros, false) + '+00:00'
            : m.role === 'seq'
              ? String(c.seq)
              : m.role === 'lsn' || (m.role === 'watermark' && m.type.kind === 'lsn')
                ? String(c.commitLsn)
                : time;
  }
  return out;
}

/** Encodes records as one file: NDJSON, Parquet (every column UTF8) or an Avro container (every field a nullable string). */
export async function encodeFile(format: SnowpipeFormat, columns: string[], records: Record<string, string | null>[], name: string): Promise<Buffer> {
  if (format === 'json') return Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
  if (format === 'parquet') {
    const vectors = Object.fromEntries(
      columns.map((c) => [
        c,
        vectorFromArray(
          records.map((r) => r[c] ?? null),
          new Utf8(),
        ),
      ]),
    );
    const ipc = tableToIPC(new Table(vectors), 'stream');
    const pq = await import('parquet-wasm');
    const props = new pq.WriterPropertiesBuilder().setCompression(pq.Compression.SNAPPY).setCreatedBy('ductstream').build();
    return Buffer.from(pq.writeParquet(pq.Table.fromIPCStream(ipc), props));
  }
  const avro = await import('avsc');
  const type = avro.Type.forSchema({
    type: 'record',
    name: 'Row',
    fields: columns.map((c) => ({ name: c, type: ['null', 'string'], default: null })),
  } as never);
  const { writeContainer } = await import('../../wire/avroContainer');
  // A sync marker derived from the name keeps the bytes identical on replay.
  const sync = createHash('md5').update(name).digest();
  return writeContainer(
    JSON.stringify(type.schema()),
    sync,
    records.map((r) => type.toBuffer(r)),
  );
}
