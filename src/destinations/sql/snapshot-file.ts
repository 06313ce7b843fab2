import type { TableSchema } from '../../core/change';
import type { Lsn } from '../../core/lsn';
import { epochMicrosToTimestamp } from '../../core/time';
import { qualified, type SqlDialect, type SqlTypes } from './dialect';
import { tableLayout, targetName, type DataColumn, type MetaColumn, type TableLayout } from './layout';
import type { WarehouseOptions } from './options';
import { baseTypeName, type LogicalType } from './types';

/**
 * One backfill chunk as a CSV file, written by PostgreSQL's `COPY (SELECT …) TO STDOUT (FORMAT csv,
 * FORCE_QUOTE *)` under a session with `TimeZone=UTC` and `DateStyle=ISO`: the table's columns in
 * table order, one line per row, every non-NULL value quoted, NULL as an unquoted empty field (so
 * an empty string and NULL stay apart). Every row is a snapshot row (`op: 'read'`) at `position`.
 */
export interface SnapshotFile {
  /** Absolute path of the CSV file; the caller removes it. */
  path: string;
  /** The source table's shape the file was read with. */
  table: TableSchema;
  /** Rows in the file (COPY's count). */
  rows: number;
  /** Where every row of the file sits in the stream (see `isApplied` for `read` rows). */
  position: { commitLsn: Lsn; seq: number; commitEndLsn: Lsn; commitTimeMicros: bigint };
}

/** A column of a {@link SnapshotFile} as a dialect's CSV reader takes it. */
export interface CsvColumn {
  name: string;
  /** The type the column is loaded as (the target column's). */
  load: LogicalType;
}

/**
 * PostgreSQL types whose text form (ISO dates, UTC timestamps) the CSV path reads into the same
 * value as the decoded path, or fails on (then the chunk is decoded instead): never a different
 * value. Left out: bytea (hex text), time/timetz/interval, arrays, enums, domains and every other type.
 */
const CSV_TYPES = new Set([
  'bool',
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'numeric',
  'text',
  'varchar',
  'bpchar',
  'uuid',
  'json',
  'jsonb',
  'date',
  'timestamp',
  'timestamptz',
]);

/**
 * Why a table's snapshot rows cannot be loaded from a CSV file into `layout`, or undefined when
 * they can: the target itself (not staging) with an enforced primary key equal to the source's
 * and not DEFERRABLE, no `type_mappings` cast, scalar columns of {@link CSV_TYPES} only, and no
 * append-mode position columns.
 */
export function csvLoadRefusal(layout: TableLayout): string | undefined {
  if (layout.mode !== 'target') return 'write_mode is not target';
  if (layout.key.length === 0 || layout.constraintKey.length !== layout.key.length) return 'the table has no primary key';
  if (layout.source.keyDeferrable === true) return 'the primary key is DEFERRABLE';
  const other = layout.columns.find((c) => c.cast || c.source.valueKind === 'array' || !CSV_TYPES.has(baseTypeName(c.source.pgType)));
  if (other) return `column ${other.name} is of type ${other.source.formattedType}${other.cast ? ' (type_mappings)' : ''}`;
  if (layout.meta.some((m) => m.role === 'lsn' || m.role === 'seq' || m.role === 'commit_time')) return 'write_mode is append';
  return undefined;
}

/**
 * {@link csvLoadRefusal} of the table a destination with options `o` writes a source table's
 * snapshot rows to (staging tables are refused: their resolution path is the decoded one).
 */
export function csvTableRefusal(schema: TableSchema, o: WarehouseOptions, types: SqlTypes): string | undefined {
  if (o.batchMode === 'staging') return 'batch_mode is staging';
  return csvLoadRefusal(tableLayout(schema, targetName(schema, o), o, types));
}

/**
 * The statement that inserts every row of the file (read by `reader`, a dialect's `SELECT` of the
 * file's columns by name) into the layout's target with the metadata values an INSERT of the same
 * `read` changes gets (op `read`, synced now, not deleted, watermark at the file's position); with
 * `upsert`, rows whose key the target holds are replaced instead of failing the insert.
 */
export function csvInsertStatement(d: SqlDialect, layout: TableLayout, file: SnapshotFile, reader: string, upsert: boolean): string {
  const columns = [...layout.columns.map((c) => c.name), ...layout.meta.map((m) => m.name)];
  const exprs = [...layout.columns.map((c) => `s.${d.quoteIdent(c.name)}`), ...layout.meta.map((m) => metaExpr(d, m, file))];
  const select = `SELECT ${exprs.join(', ')} FROM (${reader}) AS s`;
  if (upsert) return d.upsert(layout.target, columns, layout.key, select);
  return `INSERT INTO ${qualified(d, layout.target)} (${columns.map((c) => d.quoteIdent(c)).join(', ')}) ${select}`;
}

/** The CSV file's columns as the reader takes them. */
export function csvColumns(layout: TableLayout): CsvColumn[] {
  return layout.columns.map((c: DataColumn) => ({ name: c.name, load: c.load }));
}

function metaExpr(d: SqlDialect, m: MetaColumn, file: SnapshotFile): string {
  const p = file.position;
  switch (m.role) {
    case 'op':
      return d.quoteString('read');
    case 'synced_at':
      return d.currentTimestamp;
    case 'deleted':
      return 'false';
    case 'watermark':
      return m.type.kind === 'lsn'
        ? d.cast(String(p.commitLsn), d.typeName(m.type))
        : d.cast(d.quoteString(epochMicrosToTimestamp(p.commitTimeMicros, true)), d.typeName(m.type));
    default:
      // lsn, seq, commit_time: append mode, refused by csvLoadRefusal.
      throw new Error(`metadata column ${m.name} (${m.role}) has no CSV load`);
  }
}
