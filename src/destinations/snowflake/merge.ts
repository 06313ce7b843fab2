import { DuctError } from '../../core/errors';
import { qualified, type QualifiedName } from '../sql/dialect';
import { APPEND_LSN_COLUMN, APPEND_SEQ_COLUMN, type DataColumn, type MetaColumn, type TableLayout } from '../sql/layout';
import { fromText, quoteIdent, snowflakeSyntax as sx, snowflakeTypeName } from './dialect';
import { RAW, type RawRows } from './raw';

const q = quoteIdent;
const r = (name: string): string => `r.${q(name)}`;
const LSN = 'NUMBER(20,0)';

/**
 * The statements that apply one table's raw rows (`raw`) to its target, inside the batch's
 * transaction (Snowflake syntax, docs.snowflake.com "MERGE", "QUALIFY"):
 * - target mode, table with a key: a truncate first when the batch has one, then ONE `MERGE` whose
 *   source keeps the latest raw row per key (`QUALIFY ROW_NUMBER() OVER (PARTITION BY key ORDER BY
 *   lsn DESC, seq DESC, ord DESC) = 1`) and reads kept (unchanged TOAST) columns from the target as
 *   it was before the batch (a LEFT JOIN on the row's old key, so also across key moves); deletes
 *   are `WHEN MATCHED ... THEN DELETE`, a key move a delete of the old key plus an upsert of the new;
 * - append mode: one `INSERT ... SELECT` in stream order (kept columns from the latest appended row);
 * - tables without a key: inserts only (Snowflake has no row id to delete one of identical rows).
 */
export function applyStatements(layout: TableLayout, raw: QualifiedName, rows: RawRows, truncate: boolean): string[] {
  const out: string[] = [];
  if (truncate) out.push(truncateStatement(layout));
  if (rows.rows.length === 0) return out;
  if (layout.mode === 'append') return [...out, appendStatement(layout, raw, rows)];
  if (layout.key.length === 0) {
    const other = [...rows.actions].find((a) => a !== 'insert');
    if (other !== undefined) {
      throw new DuctError(
        'failed_precondition',
        `cannot apply ${other.replace('_one', '')}s to ${layout.target.schema}.${layout.target.name}: the source table has no primary key`,
        {
          retry: 'never',
          hint: 'add a primary key to the source table, or set write_mode=append (Snowflake cannot delete one of several identical rows)',
        },
      );
    }
    return [
      ...out,
      `INSERT INTO ${qualified(sx, layout.target)} (${insertColumns(layout).join(', ')}) SELECT ${valueExprs(layout, undefined).join(', ')} FROM ${qualified(sx, raw)} AS r ORDER BY ${ord()}`,
    ];
  }
  return [...out, mergeStatement(layout, raw, rows)];
}

function ord(): string {
  return `CAST(${r(RAW.ord)} AS NUMBER(38,0))`;
}

/** The latest raw row per key first. */
function latestFirst(prefix = 'r.'): string {
  return `CAST(${prefix}${q(RAW.lsn)} AS ${LSN}) DESC, CAST(${prefix}${q(RAW.seq)} AS NUMBER(38,0)) DESC, CAST(${prefix}${q(RAW.ord)} AS NUMBER(38,0)) DESC`;
}

/** The text of data column `c` (from `expr`) as the destination column's type. */
function typed(c: DataColumn, expr: string): string {
  if (!c.cast) return fromText(expr, c.load);
  const t = c.ddlType.toUpperCase();
  if (/^(VARIANT|OBJECT|ARRAY)\b/.test(t)) return `CAST(PARSE_JSON(${expr}) AS ${c.ddlType})`;
  if (/^(BINARY|VARBINARY)\b/.test(t)) return `TO_BINARY(${expr}, 'HEX')`;
  return `CAST(${expr} AS ${c.ddlType})`;
}

/** Data values of the source rows: from the raw row, or (kept columns) from the current row `f`. */
function dataExprs(layout: TableLayout, kept: Set<number> | undefined): string[] {
  return layout.columns.map((c, i) => {
    const value = typed(c, r(c.name));
    return kept?.has(i) ? `CASE WHEN CONTAINS(COALESCE(${r(RAW.keep)}, ''), ',${i},') THEN f.${q(c.name)} ELSE ${value} END` : value;
  });
}

/** The value of a metadata column for a raw row `s`/`r` (`p` is the alias prefix). */
function metaExpr(m: MetaColumn, p: string): string {
  const col = (n: string): string => `${p}${q(n)}`;
  switch (m.role) {
    case 'op':
      return col(RAW.op);
    case 'synced_at':
      return sx.currentTimestamp;
    case 'deleted':
      return `CAST(${col(RAW.deleted)} AS BOOLEAN)`;
    case 'watermark':
      return m.type.kind === 'lsn' ? `CAST(${col(RAW.lsn)} AS ${LSN})` : `CAST(${col(RAW.commitTime)} AS ${snowflakeTypeName(m.type)})`;
    case 'lsn':
      return `CAST(${col(RAW.lsn)} AS ${LSN})`;
    case 'seq':
      return `CAST(${col(RAW.seq)} AS NUMBER(38,0))`;
    case 'commit_time':
      return `CAST(${col(RAW.commitTime)} AS ${snowflakeTypeName(m.type)})`;
  }
}

function insertColumns(layout: TableLayout): string[] {
  return [...layout.columns.map((c) => q(c.name)), ...layout.meta.map((m) => q(m.name))];
}

function valueExprs(layout: TableLayout, kept: Set<number> | undefined): string[] {
  return [...dataExprs(layout, kept), ...layout.meta.map((m) => metaExpr(m, 'r.'))];
}

/** The condition that target row `f` is the row raw row `r` keeps columns from (its old key). */
export function keepSourceMatch(layout: TableLayout): string {
  return layout.key
    .map((k, i) => {
      const c = layout.columns.find((col) => col.name === k)!;
      return `f.${q(k)} = ${typed(c, r(RAW.src(i)))}`;
    })
    .join(' AND ');
}

/** LEFT JOIN of the row each raw row keeps columns from (its old key), as `f`. */
function keepJoin(layout: TableLayout, from: string): string {
  return ` LEFT JOIN ${from} AS f ON ${r(RAW.keep)} IS NOT NULL AND ${keepSourceMatch(layout)}`;
}

function mergeStatement(layout: TableLayout, raw: QualifiedName, rows: RawRows): string {
  const target = qualified(sx, layout.target);
  const keys = new Set(layout.key);
  const fixed = [RAW.action, RAW.op, RAW.lsn, RAW.seq, RAW.ord, RAW.deleted, RAW.commitTime].map((n) => r(n));
  const data = dataExprs(layout, rows.keeps ? rows.kept : undefined).map((e, i) => `${e} AS ${q(layout.columns[i]!.name)}`);
  const partition = layout.key.map((k) => r(k)).join(', ');
  const source =
    `SELECT ${[...fixed, ...data].join(', ')} FROM ${qualified(sx, raw)} AS r` +
    (rows.keeps ? keepJoin(layout, target) : '') +
    ` QUALIFY ROW_NUMBER() OVER (PARTITION BY ${partition} ORDER BY ${latestFirst()}) = 1`;
  const on = layout.key.map((k) => `t.${q(k)} = s.${q(k)}`).join(' AND ');
  const action = (a: string): string => `s.${q(RAW.action)} = '${a}'`;
  const clauses: string[] = [];
  if (rows.actions.has('delete')) clauses.push(`WHEN MATCHED AND ${action('delete')} THEN DELETE`);
  if (rows.actions.has('soft_delete')) {
    const set = layout.meta.map((m) => `${q(m.name)} = ${m.role === 'deleted' ? 'TRUE' : metaExpr(m, 's.')}`);
    if (set.length > 0) clauses.push(`WHEN MATCHED AND ${action('soft_delete')} THEN UPDATE SET ${set.join(', ')}`);
  }
  if (rows.actions.has('upsert')) {
    const set = [
      ...layout.columns.filter((c) => !keys.has(c.name)).map((c) => `${q(c.name)} = s.${q(c.name)}`),
      ...layout.meta.map((m) => `${q(m.name)} = ${metaExpr(m, 's.')}`),
    ];
    if (set.length > 0) clauses.push(`WHEN MATCHED AND ${action('upsert')} THEN UPDATE SET ${set.join(', ')}`);
    const values = [...layout.columns.map((c) => `s.${q(c.name)}`), ...layout.meta.map((m) => metaExpr(m, 's.'))];
    clauses.push(`WHEN NOT MATCHED AND ${action('upsert')} THEN INSERT (${insertColumns(layout).join(', ')}) VALUES (${values.join(', ')})`);
  }
  return `MERGE INTO ${target} AS t USING (${source}) AS s ON ${on} ${clauses.join(' ')}`;
}

function appendStatement(layout: TableLayout, raw: QualifiedName, rows: RawRows): string {
  const target = qualified(sx, layout.target);
  let join = '';
  if (rows.keeps && layout.key.length > 0) {
    const partition = layout.key.map((k) => `x.${q(k)}`).join(', ');
    const latest = `(SELECT * FROM ${target} AS x QUALIFY ROW_NUMBER() OVER (PARTITION BY ${partition} ORDER BY x.${q(APPEND_LSN_COLUMN)} DESC, x.${q(APPEND_SEQ_COLUMN)} DESC) = 1)`;
    join = keepJoin(layout, latest);
  }
  return `INSERT INTO ${target} (${insertColumns(layout).join(', ')}) SELECT ${valueExprs(layout, join !== '' ? rows.kept : undefined).join(', ')} FROM ${qualified(sx, raw)} AS r${join} ORDER BY ${ord()}`;
}

function truncateStatement(layout: TableLayout): string {
  const target = qualified(sx, layout.target);
  if (!layout.softDelete) return `DELETE FROM ${target}`;
  const set = layout.meta.flatMap((m) => {
    if (m.role === 'deleted') return [`${q(m.name)} = TRUE`];
    if (m.role === 'op') return [`${q(m.name)} = 'truncate'`];
    if (m.role === 'synced_at') return [`${q(m.name)} = ${sx.currentTimestamp}`];
    return [];
  });
  return `UPDATE ${target} SET ${set.join(', ')}`;
}
