import type { Row, Value } from '../../core/change';
import type { Lsn } from '../../core/lsn';
import { APPEND_LSN_COLUMN, APPEND_SEQ_COLUMN, type TableLayout } from '../sql/layout';
import type { PlannedRow } from '../sql/plan';
import type { ClickhouseConnection } from './client';
import { ROW_DELETED_COLUMN, VERSION_COLUMN, type FillLookup } from './rows';
import { escapeBytes, fieldEncoder, literalEncoder, TSV_NULL, unescapeField } from './tsv';
import { qualifiedName, quoteIdent } from './types';

/**
 * Which destination row a fill reads, per key:
 * - `versioned`: the latest version below `before` (the batch's first position), unless deleted;
 * - `append`: the latest appended row before position `before`;
 * - `current`: the row as it is (mutations mode, read before the batch's mutations).
 */
export type FillScope = { kind: 'versioned'; before: bigint } | { kind: 'append'; before: { commitLsn: Lsn; seq: number } } | { kind: 'current' };

/** The columns a planned row takes from the destination: unchanged TOAST values, or every non-key column of a soft delete. */
export function fillColumns(layout: TableLayout, row: PlannedRow): string[] {
  if (row.action === 'soft_delete') return layout.columns.filter((c) => !layout.key.includes(c.name)).map((c) => c.name);
  return row.fillFrom ? row.fill : [];
}

/**
 * Reads, in one query, the destination values that `rows` keep (see {@link fillColumns}), from
 * the row each one names (`fillFrom`, or its key for a soft delete). Binary columns are read as
 * hex and re-escaped, so every value goes back byte for byte.
 */
export async function readFill(conn: ClickhouseConnection, layout: TableLayout, rows: PlannedRow[], scope: FillScope): Promise<FillLookup> {
  const wanted = rows.filter((r) => fillColumns(layout, r).length > 0);
  if (wanted.length === 0 || layout.key.length === 0) return () => undefined;
  const q = quoteIdent;
  const keyCols = layout.key.map((k) => layout.columns.find((c) => c.name === k)!);
  const fillNames = [...new Set(wanted.flatMap((r) => fillColumns(layout, r)))];
  const fillCols = fillNames.map((n) => layout.columns.find((c) => c.name === n)!);
  const literals = keyCols.map((c) => literalEncoder(c.load));
  const keyOf = (r: PlannedRow): Row => (r.action === 'soft_delete' ? r.values : r.fillFrom!);
  const tuples = new Set<string>();
  for (const r of wanted) {
    const k = keyOf(r);
    tuples.add('(' + keyCols.map((c, i) => literals[i]!(k[c.name] as Exclude<Value, null>)).join(', ') + ')');
  }
  const keyList = keyCols.map((c) => q(c.name)).join(', ');
  const select = [...keyCols.map((c) => q(c.name)), ...fillCols.map((c) => (c.load.kind === 'blob' ? `hex(${q(c.name)})` : q(c.name)))];
  let where = `(${keyList}) IN (${[...tuples].join(', ')})`;
  let tail = '';
  if (scope.kind === 'versioned') {
    select.push(q(ROW_DELETED_COLUMN));
    where += ` AND ${q(VERSION_COLUMN)} < ${scope.before.toString()}`;
    tail = ` ORDER BY ${q(VERSION_COLUMN)} DESC LIMIT 1 BY ${keyList}`;
  } else if (scope.kind === 'append') {
    where += ` AND (${q(APPEND_LSN_COLUMN)}, ${q(APPEND_SEQ_COLUMN)}) < (${scope.before.commitLsn.toString()}, ${scope.before.seq})`;
    tail = ` ORDER BY ${q(APPEND_LSN_COLUMN)} DESC, ${q(APPEND_SEQ_COLUMN)} DESC LIMIT 1 BY ${keyList}`;
  }
  const found = await conn.tsv(`SELECT ${select.join(', ')} FROM ${qualifiedName(layout.target)} WHERE ${where}${tail}`);
  const byKey = new Map<string, Map<string, string>>();
  for (const fields of found) {
    if (scope.kind === 'versioned' && fields[select.length - 1] === '1') continue;
    const values = new Map<string, string>();
    fillCols.forEach((c, i) => {
      const raw = fields[keyCols.length + i] ?? TSV_NULL;
      values.set(c.name, c.load.kind === 'blob' && raw !== TSV_NULL ? escapeBytes(Buffer.from(raw, 'hex')) : raw);
    });
    byKey.set(keyCols.map((_c, i) => unescapeField(fields[i] ?? '')).join('\u0001'), values);
  }
  const encoders = keyCols.map((c) => fieldEncoder(c.load));
  return (r) => {
    if (fillColumns(layout, r).length === 0) return undefined;
    const k = keyOf(r);
    return byKey.get(keyCols.map((c, i) => unescapeField(encoders[i]!(k[c.name] ?? null))).join('\u0001'));
  };
}
