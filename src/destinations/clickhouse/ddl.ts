import type { ColumnDef, QualifiedName } from '../sql/dialect';
import { APPEND_LSN_COLUMN, APPEND_SEQ_COLUMN, type TableLayout } from '../sql/layout';
import type { ClickhouseApplyMode } from './config';
import { ROW_DELETED_COLUMN, VERSION_COLUMN } from './rows';
import { columnType, qualifiedName, quoteIdent, quoteString } from './types';

const q = quoteIdent;

export function createDatabase(name: string): string {
  return `CREATE DATABASE IF NOT EXISTS ${q(name)}`;
}

/** Whether rows of this layout carry the engine's version and deleted columns. */
export function isVersioned(layout: TableLayout, mode: ClickhouseApplyMode): boolean {
  return mode === 'versioned' && layout.mode === 'target' && layout.key.length > 0;
}

/**
 * CREATE TABLE IF NOT EXISTS for a layout:
 * - versioned target tables with a key: `ReplacingMergeTree(__ds_version, __ds_row_deleted) ORDER BY (key)`;
 * - append mode: `ReplacingMergeTree ORDER BY (__ds_lsn, __ds_seq)` (one row per change; a replayed
 *   change collapses into its first copy);
 * - mutations mode: `MergeTree ORDER BY (key)`; tables without a key: `MergeTree ORDER BY tuple()`.
 * Non-key nullable columns are `Nullable` (arrays `Variant(Array)`, see `columnType`).
 */
export function createTable(layout: TableLayout, columns: ColumnDef[], mode: ClickhouseApplyMode): string {
  const sources = new Map(layout.columns.map((c) => [c.name, c.source]));
  const keys = new Set(layout.key);
  const defs = columns.map(
    (c) => `${q(c.name)} ${sources.has(c.name) ? columnType(c.type, sources.get(c.name), layout.mode === 'target' && keys.has(c.name)) : c.type}`,
  );
  let engine: string;
  if (layout.mode === 'append') {
    engine = `ReplacingMergeTree ORDER BY (${q(APPEND_LSN_COLUMN)}, ${q(APPEND_SEQ_COLUMN)})`;
  } else if (layout.key.length === 0) {
    engine = 'MergeTree ORDER BY tuple()';
  } else if (isVersioned(layout, mode)) {
    defs.push(`${q(VERSION_COLUMN)} UInt128`, `${q(ROW_DELETED_COLUMN)} UInt8`);
    engine = `ReplacingMergeTree(${q(VERSION_COLUMN)}, ${q(ROW_DELETED_COLUMN)}) ORDER BY (${layout.key.map(q).join(', ')})`;
  } else {
    engine = `MergeTree ORDER BY (${layout.key.map(q).join(', ')})`;
  }
  return `CREATE TABLE IF NOT EXISTS ${qualifiedName(layout.target)} (${defs.join(', ')}) ENGINE = ${engine}`;
}

/** Column names of a table, in order, as `column_name`. */
export function listColumns(t: QualifiedName): string {
  const s = quoteString;
  return `SELECT name AS column_name FROM system.columns WHERE database = ${s(t.schema)} AND table = ${s(t.name)} ORDER BY position`;
}

/** Sorting key columns of a table (its key), as `column_name`. */
export function listSortingKey(t: QualifiedName): string {
  const s = quoteString;
  return `SELECT name AS column_name FROM system.columns WHERE database = ${s(t.schema)} AND table = ${s(t.name)} AND is_in_sorting_key ORDER BY position`;
}
