import type { TableRef } from '../../core/change';
import { qualified, type QualifiedName, type SqlDialect } from './dialect';
import { copyWatermark, deleteWatermark, laterWatermark, watermarkMapKey, type Watermark } from './meta-table';
import type { BatchResolution } from './options';

/** What resolving one staged table needs to know, read from the destination beforehand. */
export interface StagedTable {
  source: TableRef;
  staging: QualifiedName;
  target: QualifiedName;
  /** Columns of the staging table (empty: nothing staged). */
  columns: string[];
  /** Primary key of the target table (empty: none). */
  key: string[];
}

/**
 * Statements that move one staged table into its target (`batch_resolution`):
 * - `append`: staged rows are upserted by the target's key (inserted when it has none);
 * - `replace`: the target's rows become exactly the staged rows;
 * then the staging table is dropped and, with the meta table, its watermark moves to the target
 * when it is the later one (so streaming changes already in the snapshot are skipped).
 */
export function resolveStatements(
  d: SqlDialect,
  t: StagedTable,
  mode: Exclude<BatchResolution, 'none'>,
  meta: { flowId: string; watermarks: Map<string, Watermark> } | undefined,
): string[] {
  if (t.columns.length === 0) return [];
  const out: string[] = [];
  const list = t.columns.map((c) => d.quoteIdent(c)).join(', ');
  const select = `SELECT ${list} FROM ${qualified(d, t.staging)}`;
  if (mode === 'replace') out.push(d.deleteAll(t.target));
  if (mode === 'append' && t.key.length > 0) out.push(d.upsert(t.target, t.columns, t.key, select));
  else out.push(`INSERT INTO ${qualified(d, t.target)} (${list}) ${select}`);
  out.push(d.dropTable(t.staging));
  if (meta) {
    const from = { flowId: meta.flowId, source: t.source, target: t.staging };
    const staged = meta.watermarks.get(watermarkMapKey(t.source, t.staging));
    const current = meta.watermarks.get(watermarkMapKey(t.source, t.target));
    if (staged) {
      if (laterWatermark(current, staged) === staged) out.push(copyWatermark(d, from, t.target));
      out.push(deleteWatermark(d, from));
    }
  }
  return out;
}
