import type { Value } from '../../core/change';
import type { ColumnDef, QualifiedName, SqlDialect } from './dialect';
import { metaColumn, type DataColumn, type TableLayout } from './layout';
import type { PlannedRow, TablePlan } from './plan';
import type { LoadColumn } from './session';
import { TEXT, type LogicalType } from './types';

/** Fixed column names of a load table (data columns keep their source names). */
export const LOAD = {
  action: '__ds_action',
  ord: '__ds_ord',
  op: '__ds_m_op',
  deleted: '__ds_m_deleted',
  lsn: '__ds_m_lsn',
  seq: '__ds_m_seq',
  commitTime: '__ds_m_commit_time',
  /** Key of the destination row to fill unchanged columns from, one per key column. */
  src: (i: number) => `__ds_src_${i}`,
  /** Whether data column i keeps the destination's value. */
  keep: (i: number) => `__ds_keep_${i}`,
} as const;

/** The load data of one table's plan: the load table's columns, data, and which optional parts it has. */
export interface LoadData {
  defs: ColumnDef[];
  /** Equal for load data that fit the same load table. */
  signature: string;
  columns: LoadColumn[];
  rowCount: number;
  /** Whether the `__ds_action` column is present (absent: every row has the plan's one action). */
  hasAction: boolean;
  /** Indexes (into `layout.columns`) of columns that some row fills from the destination. */
  keep: number[];
  /** Whether `__ds_m_*` columns are present. */
  meta: { op: boolean; deleted: boolean; lsn: boolean; seq: boolean; commitTime: boolean };
}

/** Load data placed in a load table. */
export interface LoadTable extends LoadData {
  table: QualifiedName;
}

/**
 * Builds the load data for a plan: the action and order of each row, the data columns in their
 * load types, the fill columns when some row keeps unchanged TOAST values, and the per-row
 * metadata values the layout's metadata columns need.
 */
export function buildLoadData(dialect: SqlDialect, layout: TableLayout, plan: TablePlan): LoadData {
  const rows = plan.rows;
  const cols: LoadColumn[] = [];
  const add = (colName: string, type: LogicalType, get: (r: PlannedRow, i: number) => Value): void => {
    cols.push({ name: colName, type, values: rows.map(get) });
  };
  // The action column is left out when every row has the same one; the order only matters
  // where rows are applied one by one or appended (keyless and append mode)
  const hasAction = rows.some((r) => r.action !== rows[0]!.action);
  // (and where rows fill from the destination: the rows whose fill found nothing are named by it).
  const keepSet = new Set<string>();
  for (const r of rows) for (const f of r.fill) keepSet.add(f);
  const keep = layout.columns.map((c, i) => (keepSet.has(c.name) ? i : -1)).filter((i) => i >= 0);
  const hasOrd = layout.mode === 'append' || layout.key.length === 0 || keep.length > 0;
  if (hasAction) add(LOAD.action, TEXT, (r) => r.action);
  if (hasOrd) add(LOAD.ord, { kind: 'bigint' }, (_r, i) => i);
  layout.columns.forEach((c: DataColumn) => add(c.name, c.load, (r) => r.values[c.name] ?? null));

  if (keep.length > 0) {
    layout.key.forEach((k, i) => {
      const col = layout.columns.find((c) => c.name === k)!;
      add(LOAD.src(i), col.load, (r) => r.fillFrom?.[k] ?? null);
    });
    for (const i of keep) {
      const colName = layout.columns[i]!.name;
      add(LOAD.keep(i), { kind: 'boolean' }, (r) => r.fill.includes(colName));
    }
  }

  const watermark = metaColumn(layout, 'watermark');
  const meta = {
    op: metaColumn(layout, 'op') !== undefined,
    deleted: metaColumn(layout, 'deleted') !== undefined,
    lsn: metaColumn(layout, 'lsn') !== undefined || (watermark !== undefined && watermark.type.kind === 'lsn'),
    seq: metaColumn(layout, 'seq') !== undefined,
    commitTime: metaColumn(layout, 'commit_time') !== undefined || (watermark !== undefined && watermark.type.kind === 'timestamptz'),
  };
  if (meta.op) add(LOAD.op, TEXT, (r) => r.change.op);
  if (meta.deleted) add(LOAD.deleted, { kind: 'boolean' }, (r) => r.deleted);
  if (meta.lsn) add(LOAD.lsn, { kind: 'lsn' }, (r) => r.change.commitLsn);
  if (meta.seq) add(LOAD.seq, { kind: 'bigint' }, (r) => BigInt(r.change.seq));
  if (meta.commitTime) add(LOAD.commitTime, { kind: 'timestamptz' }, (r) => r.change.commitTimeMicros);

  const defs: ColumnDef[] = cols.map((c) => ({ name: c.name, type: dialect.typeName(c.type) }));
  return { defs, signature: JSON.stringify(defs), columns: cols, rowCount: rows.length, hasAction, keep, meta };
}
