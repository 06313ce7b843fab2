import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import { qualified, type QualifiedName } from '../sql/dialect';
import type { TableLayout } from '../sql/layout';
import type { TablePlan } from '../sql/plan';
import { completePlanFromSource } from '../sql/source-fill';
import type { SnowflakeClient } from './client';
import { quoteIdent as q, snowflakeSyntax as sx } from './dialect';
import { keepSourceMatch } from './merge';
import { RAW, type RawRows } from './raw';

/**
 * Unchanged TOAST values of rows Snowflake does not hold (rows that existed before the flow
 * started, say): the MERGE's LEFT JOIN would find no target row and write NULL where the source
 * never had one. After the raw rows are staged, one query finds the rows that keep columns from a
 * target row that is not there; those are completed from the source's current row by key
 * (`completePlanFromSource`: the values can be newer than the change, a later change corrects
 * them; a row gone from the source is left out; without a source reader the table stops).
 *
 * Returns `plan` itself when nothing is missing (then the staged rows stand); otherwise the
 * completed plan, which the caller stages again in place of `raw`'s rows.
 */
export async function completeStagedFromSource(
  client: SnowflakeClient,
  layout: TableLayout,
  plan: TablePlan,
  raw: QualifiedName,
  rows: RawRows,
  reader: SourceRowReader | undefined,
  log: Logger,
): Promise<TablePlan> {
  if (!rows.keeps || layout.key.length === 0 || rows.rows.length === 0) return plan;
  const found = await client.execute(missingKeepQuery(layout, raw));
  return completePlanFromSource(layout, plan, new Set(found.map((r) => Number(r.ord))), reader, log);
}

/** `SELECT ord` of the raw rows that keep columns from a target row (by old key) that does not exist. */
export function missingKeepQuery(layout: TableLayout, raw: QualifiedName): string {
  return (
    `SELECT r.${q(RAW.ord)} AS "ord" FROM ${qualified(sx, raw)} AS r WHERE r.${q(RAW.keep)} IS NOT NULL ` +
    `AND NOT EXISTS (SELECT 1 FROM ${qualified(sx, layout.target)} AS f WHERE ${keepSourceMatch(layout)})`
  );
}
