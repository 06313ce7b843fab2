import type { Row } from '../../core/change';
import { epochMicrosToTimestamp } from '../../core/time';
import type { ColumnDef } from '../sql/dialect';
import type { TableLayout } from '../sql/layout';
import type { TablePlan } from '../sql/plan';
import { textConverter } from './values';

/**
 * Fixed columns of a raw table (data columns keep their source names). Every raw column is
 * VARCHAR: the batch is staged as text (a CSV file or bound text values) and the MERGE converts
 * each column to its type (`fromText`), so one raw table layout serves every batch of a table.
 */
export const RAW = {
  action: '__ds_action',
  op: '__ds_op',
  lsn: '__ds_lsn',
  seq: '__ds_seq',
  ord: '__ds_ord',
  deleted: '__ds_deleted',
  commitTime: '__ds_commit_time',
  keyJson: '__ds_key_json',
  /** `,i,j,`: indexes (into `layout.columns`) of the columns this row keeps from the destination (unchanged TOAST). */
  keep: '__ds_keep',
  /** Key of the destination row to keep those columns from, one per key column. */
  src: (i: number) => `__ds_src_${i}`,
} as const;

/** The raw rows of one table's plan, row-major text, in the order of {@link rawColumns}. */
export interface RawRows {
  rows: (string | null)[][];
  /** True when some row keeps a column from the destination (the MERGE then joins the target). */
  keeps: boolean;
  /** Indexes (into `layout.columns`) of the columns some row keeps. */
  kept: Set<number>;
  /** Actions present. */
  actions: Set<string>;
}

/** The raw table's columns for a layout (all VARCHAR). */
export function rawColumns(layout: TableLayout): ColumnDef[] {
  const names: string[] = [RAW.action, RAW.op, RAW.lsn, RAW.seq, RAW.ord, RAW.deleted, RAW.commitTime, RAW.keyJson, RAW.keep];
  layout.key.forEach((_k, i) => names.push(RAW.src(i)));
  for (const c of layout.columns) names.push(c.name);
  return names.map((name) => ({ name, type: 'VARCHAR' }));
}

/** Converts a plan's rows to raw text rows. Throws a plain Error naming the column on a value it cannot convert. */
export function rawRows(layout: TableLayout, plan: TablePlan): RawRows {
  const converters = layout.columns.map((c) => textConverter(c.load));
  const keyIndex = layout.key.map((k) => layout.columns.findIndex((c) => c.name === k));
  const index = new Map(layout.columns.map((c, i) => [c.name, i]));
  const rows: (string | null)[][] = [];
  const actions = new Set<string>();
  let keeps = false;
  const kept = new Set<number>();
  plan.rows.forEach((r, ord) => {
    actions.add(r.action);
    const c = r.change;
    const keep = r.fill.length > 0 && r.fillFrom ? `,${r.fill.map((f) => index.get(f)).join(',')},` : null;
    if (keep) {
      keeps = true;
      for (const f of r.fill) kept.add(index.get(f)!);
    }
    const row: (string | null)[] = [
      r.action,
      c.op,
      String(c.commitLsn),
      String(c.seq),
      String(ord),
      String(r.deleted),
      epochMicrosText(c.commitTimeMicros),
      layout.key.length > 0 ? keyJson(layout, keyIndex, converters, r.values) : null,
      keep,
    ];
    keyIndex.forEach((ci) => row.push(keep ? convert(layout, ci, converters, r.fillFrom![layout.columns[ci]!.name]) : null));
    for (let i = 0; i < layout.columns.length; i++) row.push(convert(layout, i, converters, r.values[layout.columns[i]!.name]));
    rows.push(row);
  });
  return { rows, keeps, kept, actions };
}

function convert(layout: TableLayout, i: number, converters: ReturnType<typeof textConverter>[], v: Row[string] | undefined): string | null {
  if (v === undefined || v === null) return null;
  try {
    return converters[i]!(v);
  } catch (e) {
    throw new Error(`column "${layout.columns[i]!.name}": ${(e as Error).message}`);
  }
}

/** The row's key as a JSON object of its text values: the meta table's `key_json`. */
function keyJson(layout: TableLayout, keyIndex: number[], converters: ReturnType<typeof textConverter>[], values: Row): string {
  const o: Record<string, string | null> = {};
  layout.key.forEach((k, j) => (o[k] = convert(layout, keyIndex[j]!, converters, values[k])));
  return JSON.stringify(o);
}

function epochMicrosText(micros: bigint): string {
  return epochMicrosToTimestamp(micros, false) + '+00:00';
}
