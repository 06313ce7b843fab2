import { tableKey, type Row, type TableSchema } from '../core/change';
import type { DuctError } from '../core/errors';
import type { Logger } from '../core/log';
import type { SourceRowReader } from '../core/sourceRows';
import { keyIdOf } from './sql/row-key';

/**
 * Rows whose unchanged TOAST values neither their change nor the destination has (rows that
 * existed before the flow started, say), as one destination sees them (`T`: its planned row or
 * change).
 */
export interface LackingRows<T> {
  /** The source table. */
  schema: TableSchema;
  /** The key the source is read by (the destination's key columns, source names). */
  key: readonly string[];
  rows: readonly T[];
  /** The row's key values (its new key for a key change: the source's row is there now). */
  keyOf: (row: T) => Row;
  /** The columns some row lacks (for the log line). */
  columns: readonly string[];
  /** The error that stops the table when no source reader is at hand (`retry: never`, with the fix). */
  unknown: () => DuctError;
}

/**
 * The one way every table destination (DuckDB, Snowflake, ClickHouse, Snowpipe) completes values a
 * change did not carry and the destination does not hold: it reads the source's current row of
 * each lacking row by key, in one call. A destination never writes NULL for a value the source had.
 *
 * Returns the source's current row per lacking row; a row absent from the map is gone from the
 * source (its delete or key change follows in the stream: the caller leaves it out). The values
 * read can be NEWER than the change (read now, outside the stream's snapshot): a later change of
 * the stream brings the destination back in step. Without a reader, throws `lacking.unknown()`.
 * Logs one line per call with the counts.
 */
export async function readLackingFromSource<T>(lacking: LackingRows<T>, reader: SourceRowReader | undefined, log: Logger): Promise<Map<T, Row>> {
  const out = new Map<T, Row>();
  if (lacking.rows.length === 0) return out;
  if (!reader || lacking.key.length === 0) throw lacking.unknown();
  const idOf = keyIdOf(lacking.key);
  const current = new Map<unknown, Row>();
  for (const row of await reader.rowsByKey(lacking.schema, lacking.rows.map(lacking.keyOf))) current.set(idOf(row), row);
  for (const r of lacking.rows) {
    const src = current.get(idOf(lacking.keyOf(r)));
    if (src) out.set(r, src);
  }
  log.info('unchanged TOAST values of rows the destination lacked were read from the source (they may be newer than the change)', {
    table: tableKey(lacking.schema),
    columns: [...lacking.columns],
    fetched: out.size,
    gone: lacking.rows.length - out.size,
  });
  return out;
}

/** `values` with `columns` taken from the source row `src` (NULL where the source has NULL). */
export function withSourceValues(values: Row, columns: readonly string[], src: Row): Row {
  const out: Row = { ...values };
  for (const c of columns) out[c] = src[c] ?? null;
  return out;
}
