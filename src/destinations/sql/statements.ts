import type { Change } from '../../core/change';
import { epochMicrosToTimestamp } from '../../core/time';
import { qualified, type SqlDialect } from './dialect';
import { APPEND_LSN_COLUMN, APPEND_SEQ_COLUMN, type DataColumn, type MetaColumn, type TableLayout } from './layout';
import { LOAD, type LoadTable } from './load-table';
import type { PlannedAction, TablePlan } from './plan';

/**
 * How the rows a plan upserts are written:
 * - `upsert`: insert, or replace the row with the same key (always right);
 * - `insert`: plain INSERT, for a plan of inserts only (`TablePlan.onlyInserts`) where the dialect
 *   enforces keys: fails when the destination holds one of the keys;
 * - `update`: plain UPDATE of the rows with the same key, for a plan of updates only
 *   (`TablePlan.onlyUpdates`): right only if it changed as many rows as the plan holds.
 */
export type WriteRows = 'upsert' | 'insert' | 'update';

/**
 * The statements that apply one table's plan from its load table, in order. Fill runs before
 * any delete or upsert, so unchanged TOAST values are read from the destination as it was before
 * the batch (also across key changes within the batch). With `rows` = `update`, the UPDATE is the
 * last statement (see {@link updatable}).
 */
export function applyStatements(d: SqlDialect, layout: TableLayout, plan: TablePlan, load: LoadTable, rows: WriteRows = 'upsert'): string[] {
  const out: string[] = [];
  if (plan.truncate) out.push(truncateStatement(d, layout, plan.truncate));
  if (load.rowCount === 0) return out;
  const actions = new Set<PlannedAction>(plan.rows.map((r) => r.action));
  if (load.keep.length > 0) out.push(fillStatement(d, layout, load));
  if (layout.mode === 'append') {
    out.push(insertStatement(d, layout, load, 'TRUE', `ORDER BY ${sq(d, LOAD.ord)}`));
    return out;
  }
  if (layout.key.length === 0) return [...out, ...keylessStatements(d, layout, plan, load)];
  const target = layout.target;
  const only = (action: PlannedAction): string => (load.hasAction ? `${sq(d, LOAD.action)} = '${action}'` : 'TRUE');
  if (actions.has('delete')) out.push(d.deleteUsing(target, load.table, `${only('delete')} AND ${keyMatch(d, layout)}`));
  if (actions.has('soft_delete')) {
    const set = softDeleteSet(d, layout, (m) => loadedMeta(d, m));
    out.push(d.updateFrom(target, 't', set, `${qualified(d, load.table)} AS s`, `${only('soft_delete')} AND ${keyMatch(d, layout)}`));
  }
  if (actions.has('upsert')) {
    const { columns, exprs } = insertColumns(d, layout);
    if (rows === 'insert') {
      out.push(insertStatement(d, layout, load, only('upsert')));
    } else if (rows === 'update') {
      const keys = new Set(layout.key);
      const set = columns.flatMap((c, i) => (keys.has(c) ? [] : [`${d.quoteIdent(c)} = ${exprs[i]!}`]));
      out.push(d.updateFrom(target, 't', set, `${qualified(d, load.table)} AS s`, `${only('upsert')} AND ${keyMatch(d, layout)}`));
    } else {
      const select = `SELECT ${exprs.join(', ')} FROM ${qualified(d, load.table)} AS s WHERE ${only('upsert')}`;
      out.push(d.upsert(target, columns, layout.key, select));
    }
  }
  return out;
}

/** True when a plan of updates only can be written with `rows` = `update`: it has a column to set. */
export function updatable(layout: TableLayout): boolean {
  return layout.meta.length > 0 || layout.columns.some((c) => !layout.key.includes(c.name));
}

/** `s."col"`: a column of the load table. */
function sq(d: SqlDialect, name: string): string {
  return `s.${d.quoteIdent(name)}`;
}

/** A data column of the load table as the destination type (CAST when a type mapping applies). */
function loadedData(d: SqlDialect, c: DataColumn): string {
  return c.cast ? d.cast(sq(d, c.name), c.ddlType) : sq(d, c.name);
}

/** The destination row `t` whose key is the load row's data key. */
function keyMatch(d: SqlDialect, layout: TableLayout): string {
  return layout.key.map((k) => `t.${d.quoteIdent(k)} = ${loadedData(d, column(layout, k))}`).join(' AND ');
}

function column(layout: TableLayout, name: string): DataColumn {
  return layout.columns.find((c) => c.name === name)!;
}

/** The value of a metadata column for a load row. */
function loadedMeta(d: SqlDialect, m: MetaColumn): string {
  switch (m.role) {
    case 'op':
      return sq(d, LOAD.op);
    case 'synced_at':
      return d.currentTimestamp;
    case 'deleted':
      return sq(d, LOAD.deleted);
    case 'watermark':
      return m.type.kind === 'lsn' ? sq(d, LOAD.lsn) : sq(d, LOAD.commitTime);
    case 'lsn':
      return sq(d, LOAD.lsn);
    case 'seq':
      return sq(d, LOAD.seq);
    case 'commit_time':
      return sq(d, LOAD.commitTime);
  }
}

function insertColumns(d: SqlDialect, layout: TableLayout): { columns: string[]; exprs: string[] } {
  return {
    columns: [...layout.columns.map((c) => c.name), ...layout.meta.map((m) => m.name)],
    exprs: [...layout.columns.map((c) => loadedData(d, c)), ...layout.meta.map((m) => loadedMeta(d, m))],
  };
}

function insertStatement(d: SqlDialect, layout: TableLayout, load: LoadTable, where: string, tail = ''): string {
  const { columns, exprs } = insertColumns(d, layout);
  return (
    `INSERT INTO ${qualified(d, layout.target)} (${columns.map((c) => d.quoteIdent(c)).join(', ')}) ` +
    `SELECT ${exprs.join(', ')} FROM ${qualified(d, load.table)} AS s WHERE ${where}${tail ? ' ' + tail : ''}`
  );
}

/** `SET` items that mark a row deleted, with metadata from `value`. */
function softDeleteSet(d: SqlDialect, layout: TableLayout, value: (m: MetaColumn) => string): string[] {
  return layout.meta.map((m) => `${d.quoteIdent(m.name)} = ${m.role === 'deleted' ? 'TRUE' : value(m)}`);
}

function truncateStatement(d: SqlDialect, layout: TableLayout, c: Change): string {
  if (!layout.softDelete) return `DELETE FROM ${qualified(d, layout.target)}`;
  const set = softDeleteSet(d, layout, (m) => changeMetaLiteral(d, m, c));
  return `UPDATE ${qualified(d, layout.target)} SET ${set.join(', ')}`;
}

/** A metadata value of one change as a literal. */
function changeMetaLiteral(d: SqlDialect, m: MetaColumn, c: Change): string {
  const time = d.cast(d.quoteString(epochMicrosToTimestamp(c.commitTimeMicros, true)), d.typeName({ kind: 'timestamptz' }));
  const lsn = d.cast(String(c.commitLsn), d.typeName({ kind: 'lsn' }));
  switch (m.role) {
    case 'op':
      return d.quoteString(c.op);
    case 'synced_at':
      return d.currentTimestamp;
    case 'deleted':
      return 'TRUE';
    case 'watermark':
      return m.type.kind === 'lsn' ? lsn : time;
    case 'lsn':
      return lsn;
    case 'seq':
      return String(c.seq);
    case 'commit_time':
      return time;
  }
}

/**
 * Fills kept columns of the load table from the destination's current row. In append mode the
 * current row is the latest appended one for the key.
 */
function fillStatement(d: SqlDialect, layout: TableLayout, load: LoadTable): string {
  const set = load.keep.map((i) => {
    const c = layout.columns[i]!;
    const current = c.cast ? d.cast(`t.${d.quoteIdent(c.name)}`, d.typeName(c.load)) : `t.${d.quoteIdent(c.name)}`;
    return `${d.quoteIdent(c.name)} = CASE WHEN ${sq(d, LOAD.keep(i))} THEN ${current} ELSE ${sq(d, c.name)} END`;
  });
  const match = layout.key.map((k, i) => {
    const c = column(layout, k);
    const src = c.cast ? d.cast(sq(d, LOAD.src(i)), c.ddlType) : sq(d, LOAD.src(i));
    return `t.${d.quoteIdent(k)} = ${src}`;
  });
  const anyKeep = load.keep.map((i) => sq(d, LOAD.keep(i))).join(' OR ');
  let from = `${qualified(d, layout.target)} AS t`;
  if (layout.mode === 'append') {
    // The latest appended row of each key this batch needs (joined to those keys first, so only
    // their rows are ranked).
    const keys = layout.key.map((k) => `x.${d.quoteIdent(k)}`).join(', ');
    const order = `x.${d.quoteIdent(APPEND_LSN_COLUMN)} DESC, x.${d.quoteIdent(APPEND_SEQ_COLUMN)} DESC`;
    const wanted = `SELECT DISTINCT ${layout.key.map((_k, i) => `${d.quoteIdent(LOAD.src(i))} AS k${i}`).join(', ')} FROM ${qualified(d, load.table)}`;
    const on = layout.key
      .map((k, i) => `x.${d.quoteIdent(k)} = ${column(layout, k).cast ? d.cast(`w.k${i}`, column(layout, k).ddlType) : `w.k${i}`}`)
      .join(' AND ');
    from =
      `(SELECT * FROM (SELECT x.*, row_number() OVER (PARTITION BY ${keys} ORDER BY ${order}) AS __ds_rn ` +
      `FROM ${qualified(d, layout.target)} AS x JOIN (${wanted}) AS w ON ${on}) AS latest WHERE __ds_rn = 1) AS t`;
  }
  return d.updateFrom(load.table, 's', set, from, `${match.join(' AND ')} AND (${anyKeep})`);
}

/** Tables without a key: consecutive inserts as one statement, each delete removing one equal row. */
function keylessStatements(d: SqlDialect, layout: TableLayout, plan: TablePlan, load: LoadTable): string[] {
  const out: string[] = [];
  const ord = sq(d, LOAD.ord);
  let i = 0;
  while (i < plan.rows.length) {
    const row = plan.rows[i]!;
    if (row.action === 'delete_one') {
      const equal = layout.columns.map((c) => d.nullSafeEquals(`t.${d.quoteIdent(c.name)}`, loadedData(d, c)));
      out.push(d.deleteOne(layout.target, load.table, `${ord} = ${i} AND ${equal.join(' AND ')}`));
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < plan.rows.length && plan.rows[j + 1]!.action === 'insert') j++;
    out.push(insertStatement(d, layout, load, `${ord} BETWEEN ${i} AND ${j}`, `ORDER BY ${ord}`));
    i = j + 1;
  }
  return out;
}
