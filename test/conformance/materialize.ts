/**
 * Turns a stream of changes into the table state they imply, the way a consumer of an event
 * destination would: apply each change once, in stream order (commit LSN, seq), keeping unchanged
 * TOAST columns from the row's previous image. Used for the expected state of every scenario and
 * for the state behind the events an event destination delivered.
 */
import { tableKey, type TableSchema } from '../../src/core/change';
import { parseLsn } from '../../src/core/lsn';
import type { ChangeEnvelope } from '../../src/wire/codec';
import { canonicalRow, rowKeyOf, sortedRows, type CanonicalRow } from './canonical';

/** Table (`schema.table`) → rows sorted by key. */
export type TableState = Map<string, CanonicalRow[]>;

export function streamOrder(a: ChangeEnvelope, b: ChangeEnvelope): number {
  const la = parseLsn(a.commit_lsn);
  const lb = parseLsn(b.commit_lsn);
  if (la !== lb) return la < lb ? -1 : 1;
  return a.seq - b.seq;
}

/** The stream position of an envelope as text, `commit_lsn/seq`. */
export function positionOf(e: Pick<ChangeEnvelope, 'commit_lsn' | 'seq'>): string {
  return `${e.commit_lsn}#${e.seq}`;
}

/**
 * Applies `envelopes` (each once; sorted here) to empty tables. Every table of `schemas` appears in
 * the result, empty when no change left a row.
 */
export function materialize(envelopes: readonly ChangeEnvelope[], schemas: readonly TableSchema[]): TableState {
  const bySchema = new Map(schemas.map((s) => [tableKey(s), s]));
  const tables = new Map<string, Map<string, CanonicalRow>>(schemas.map((s) => [tableKey(s), new Map()]));
  for (const e of [...envelopes].sort(streamOrder)) {
    const name = `${e.schema}.${e.table}`;
    const schema = bySchema.get(name);
    const rows = tables.get(name);
    if (!schema || !rows) throw new Error(`a change of ${name}, which the scenario does not declare`);
    if (e.op === 'truncate') {
      rows.clear();
      continue;
    }
    const oldKey = rowKeyOf(canonicalRow(e.key, schema), schema);
    if (e.op === 'delete') {
      rows.delete(oldKey);
      continue;
    }
    const after = canonicalRow(e.after ?? {}, schema);
    const previous = rows.get(oldKey);
    for (const c of e.unchanged_toast) {
      delete after[c];
      if (previous && c in previous) after[c] = previous[c]!;
    }
    const newKey = rowKeyOf(after, schema);
    if (e.op === 'update' && newKey !== oldKey) rows.delete(oldKey);
    rows.set(newKey, after);
  }
  const out: TableState = new Map();
  for (const [name, rows] of tables) out.set(name, sortedRows(rows.values(), bySchema.get(name)!));
  return out;
}
