import { tableKey, type Row } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import { readLackingFromSource, withSourceValues } from '../sourceFill';
import { qualified, type SqlDialect } from './dialect';
import type { TableLayout } from './layout';
import { LOAD, type LoadTable } from './load-table';
import type { PlannedRow, TablePlan } from './plan';
import type { SqlSession } from './session';

/**
 * Unchanged TOAST values of rows the destination does not hold (rows that existed before the flow
 * started, say): the change does not carry them and the destination has nothing to keep, so
 * writing the row would put NULL where the source never had one. DuckDB finds such rows of the
 * loaded plan with one query ({@link missingFillQuery}) and completes them ({@link completePlanFromSource}).
 *
 * Returns the plan to apply: `plan` itself when every row's fill source is in the destination.
 */
export async function completeFromSource(
  session: SqlSession,
  d: SqlDialect,
  layout: TableLayout,
  plan: TablePlan,
  load: LoadTable,
  reader: SourceRowReader | undefined,
  log: Logger,
): Promise<TablePlan> {
  if (load.keep.length === 0 || layout.key.length === 0 || load.rowCount === 0) return plan;
  const found = await session.query(missingFillQuery(d, layout, load));
  return completePlanFromSource(layout, plan, new Set(found.map((r) => Number(r.ord))), reader, log);
}

/**
 * Completes the rows of `plan` at indexes `missing` (rows that keep columns from a destination row
 * that is not there) from the source's current row by key (`readLackingFromSource`: the values can
 * be newer than the change; a later change of the stream corrects them). A row the source no
 * longer has is left out (a later delete or key change in the stream accounts for it); a
 * soft-deleted image flags whatever the destination has at its key. Without a source reader the
 * table is stopped with the reason. Returns `plan` itself when `missing` is empty.
 */
export async function completePlanFromSource(
  layout: TableLayout,
  plan: TablePlan,
  missing: ReadonlySet<number>,
  reader: SourceRowReader | undefined,
  log: Logger,
): Promise<TablePlan> {
  if (missing.size === 0) return plan;
  const rows = [...missing].map((i) => plan.rows[i]!);
  const columns = [...new Set(rows.flatMap((r) => r.fill))];
  if (!reader) throw unknownValues(layout, rows, columns);
  const current = await readLackingFromSource(
    {
      schema: layout.source,
      key: layout.key,
      rows: rows.filter((r) => !r.deleted),
      keyOf: (r) => keyOf(layout, r.values),
      columns,
      unknown: () => unknownValues(layout, rows, columns),
    },
    reader,
    log,
  );
  const out: PlannedRow[] = [];
  plan.rows.forEach((r, i) => {
    if (!missing.has(i)) return out.push(r);
    if (r.deleted) {
      // A soft-deleted image of a row the destination never held: flag whatever is there.
      return out.push({ ...r, action: 'soft_delete', values: keyOf(layout, r.values), fill: [], fillFrom: null });
    }
    const src = current.get(r);
    if (src) out.push({ ...r, values: withSourceValues(r.values, r.fill, src), fill: [], fillFrom: null });
  });
  return { ...plan, rows: out, onlyInserts: false, onlyUpdates: false };
}

/** `SELECT ord` of the load rows that keep a destination value from a key the destination lacks. */
export function missingFillQuery(d: SqlDialect, layout: TableLayout, load: LoadTable): string {
  const sq = (n: string): string => `s.${d.quoteIdent(n)}`;
  const anyKeep = load.keep.map((i) => sq(LOAD.keep(i))).join(' OR ');
  const match = layout.key
    .map((k, i) => {
      const c = layout.columns.find((col) => col.name === k)!;
      const src = c.cast ? d.cast(sq(LOAD.src(i)), c.ddlType) : sq(LOAD.src(i));
      return `t.${d.quoteIdent(k)} = ${src}`;
    })
    .join(' AND ');
  return (
    `SELECT ${sq(LOAD.ord)} AS ord FROM ${qualified(d, load.table)} AS s WHERE (${anyKeep}) ` +
    `AND NOT EXISTS (SELECT 1 FROM ${qualified(d, layout.target)} AS t WHERE ${match})`
  );
}

/** The key columns of a row's values. */
export function keyOf(layout: TableLayout, values: Row): Row {
  const out: Row = {};
  for (const k of layout.key) out[k] = values[k] ?? null;
  return out;
}

export function unknownValues(layout: TableLayout, rows: readonly PlannedRow[], columns: string[]): DuctError {
  const t = tableKey(layout.source);
  const example = JSON.stringify(keyOf(layout, rows[0]!.values), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return new DuctError(
    'failed_precondition',
    `${rows.length} update(s) of ${t} leave column(s) ${columns.join(', ')} unchanged (TOAST) on rows ${layout.target.schema}.${layout.target.name} does not hold (first key ${example}): their values are unknown, and writing NULL would be wrong`,
    {
      retry: 'never',
      hint: `copy the table's existing rows into the destination first, or run ALTER TABLE ${t} REPLICA IDENTITY FULL on the source so updates carry every value`,
    },
  );
}
