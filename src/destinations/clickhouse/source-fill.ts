import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import { readLackingFromSource } from '../sourceFill';
import type { TableLayout } from '../sql/layout';
import type { PlannedRow } from '../sql/plan';
import { keyOf, unknownValues } from '../sql/source-fill';
import { fillColumns } from './fill';
import type { FillLookup } from './rows';
import { fieldEncoder } from './tsv';

/** A fill lookup completed from the source, and the rows to leave out (the source no longer has them). */
export interface CompletedFill {
  fill: FillLookup;
  gone: ReadonlySet<PlannedRow>;
}

/**
 * Unchanged TOAST values of rows ClickHouse does not hold (rows that existed before the flow
 * started): `fill` found nothing to keep for them, and writing the row would put NULL where the
 * source never had one. Their values are read from the source's current row by key instead
 * (`readLackingFromSource`: can be newer than the change; a later change of the stream corrects
 * it); a row the source no longer has is left out (its delete follows in the stream). Without a
 * source reader the table stops with the reason and the fix (`never`). Deletes and soft deletes
 * are not completed.
 */
export async function completeFillFromSource(
  layout: TableLayout,
  rows: readonly PlannedRow[],
  fill: FillLookup,
  reader: SourceRowReader | undefined,
  log: Logger,
): Promise<CompletedFill> {
  const lacking = rows.filter((r) => r.action !== 'delete' && r.action !== 'soft_delete' && fillColumns(layout, r).length > 0 && fill(r) === undefined);
  if (lacking.length === 0 || layout.key.length === 0) return { fill, gone: new Set() };
  const columns = [...new Set(lacking.flatMap((r) => fillColumns(layout, r)))];
  const current = await readLackingFromSource(
    {
      schema: layout.source,
      key: layout.key,
      rows: lacking,
      keyOf: (r) => keyOf(layout, r.values),
      columns,
      unknown: () => unknownValues(layout, lacking, columns),
    },
    reader,
    log,
  );
  const encoders = new Map(layout.columns.filter((c) => columns.includes(c.name)).map((c) => [c.name, fieldEncoder(c.load)] as const));
  const completed = new Map<PlannedRow, Map<string, string>>();
  const gone = new Set<PlannedRow>();
  for (const r of lacking) {
    const src = current.get(r);
    if (src) completed.set(r, new Map(fillColumns(layout, r).map((c) => [c, encoders.get(c)!(src[c] ?? null)] as const)));
    else gone.add(r);
  }
  return { fill: (r) => completed.get(r) ?? fill(r), gone };
}
