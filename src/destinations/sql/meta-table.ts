import type { TableRef } from '../../core/change';
import type { Lsn } from '../../core/lsn';
import { epochMicrosToTimestamp } from '../../core/time';
import { qualified, type QualifiedName, type SqlDialect } from './dialect';

/**
 * The meta table (`meta_table_enabled`): one row per (flow, source table, destination table)
 * holding the stream position (commit LSN, seq) of the last change applied to that destination
 * table. It is written in the same transaction as the data, so a change at or before the
 * watermark is known to be applied: replays skip it, and an older batch never overwrites newer rows.
 */
export interface Watermark {
  commitLsn: Lsn;
  seq: number;
}

export interface WatermarkKey {
  flowId: string;
  source: TableRef;
  target: QualifiedName;
}

const KEY_COLUMNS = ['flow_id', 'source_schema', 'source_table', 'target_schema', 'target_table'];

export function createMetaTableStatements(d: SqlDialect): string[] {
  const text = d.typeName({ kind: 'text' });
  const ts = d.typeName({ kind: 'timestamptz' });
  return [
    d.createSchema(d.metaTable.schema),
    d.createTable(
      d.metaTable,
      [
        ...KEY_COLUMNS.map((name) => ({ name, type: text })),
        { name: 'commit_lsn', type: d.typeName({ kind: 'lsn' }) },
        { name: 'seq', type: d.typeName({ kind: 'bigint' }) },
        { name: 'commit_time', type: ts },
        { name: 'updated_at', type: ts },
      ],
      KEY_COLUMNS,
    ),
  ];
}

export function selectWatermarks(d: SqlDialect, flowId: string): string {
  const cols = [...KEY_COLUMNS.slice(1), 'commit_lsn', 'seq'].map((c) => d.quoteIdent(c)).join(', ');
  return `SELECT ${cols} FROM ${qualified(d, d.metaTable)} WHERE ${d.quoteIdent('flow_id')} = ${d.quoteString(flowId)}`;
}

/** `schema.table→schema.table`: the in-memory key of a watermark row of one flow. */
export function watermarkMapKey(source: TableRef, target: QualifiedName): string {
  return JSON.stringify([source.schema, source.name, target.schema, target.name]);
}

/** Reads the rows of {@link selectWatermarks} into a map keyed by {@link watermarkMapKey}. */
export function parseWatermarkRows(rows: Record<string, unknown>[]): Map<string, Watermark> {
  const out = new Map<string, Watermark>();
  for (const r of rows) {
    const key = watermarkMapKey(
      { schema: String(r.source_schema), name: String(r.source_table) },
      { schema: String(r.target_schema), name: String(r.target_table) },
    );
    out.set(key, { commitLsn: BigInt(r.commit_lsn as bigint | string), seq: Number(r.seq) });
  }
  return out;
}

export function upsertWatermark(d: SqlDialect, k: WatermarkKey, w: Watermark, commitTimeMicros: bigint): string {
  const values = [k.flowId, k.source.schema, k.source.name, k.target.schema, k.target.name].map((v) => d.quoteString(v));
  values.push(d.cast(String(w.commitLsn), d.typeName({ kind: 'lsn' })));
  values.push(String(w.seq));
  values.push(d.cast(d.quoteString(epochMicrosToTimestamp(commitTimeMicros, true)), d.typeName({ kind: 'timestamptz' })));
  values.push(d.currentTimestamp);
  const columns = [...KEY_COLUMNS, 'commit_lsn', 'seq', 'commit_time', 'updated_at'];
  return d.upsert(d.metaTable, columns, KEY_COLUMNS, `SELECT ${values.join(', ')}`);
}

/** Moves an existing watermark row (cheaper than {@link upsertWatermark} where upserts are costly). */
export function updateWatermark(d: SqlDialect, k: WatermarkKey, w: Watermark, commitTimeMicros: bigint): string {
  const set = [
    `${d.quoteIdent('commit_lsn')} = ${d.cast(String(w.commitLsn), d.typeName({ kind: 'lsn' }))}`,
    `${d.quoteIdent('seq')} = ${w.seq}`,
    `${d.quoteIdent('commit_time')} = ${d.cast(d.quoteString(epochMicrosToTimestamp(commitTimeMicros, true)), d.typeName({ kind: 'timestamptz' }))}`,
    `${d.quoteIdent('updated_at')} = ${d.currentTimestamp}`,
  ];
  return `UPDATE ${qualified(d, d.metaTable)} SET ${set.join(', ')} WHERE ${keyWhere(d, k)}`;
}

/** Copies the watermark row of `from` to the same source table's row for destination table `to`. */
export function copyWatermark(d: SqlDialect, from: WatermarkKey, to: QualifiedName): string {
  const columns = [...KEY_COLUMNS, 'commit_lsn', 'seq', 'commit_time', 'updated_at'];
  const exprs = [
    d.quoteString(from.flowId),
    d.quoteString(from.source.schema),
    d.quoteString(from.source.name),
    d.quoteString(to.schema),
    d.quoteString(to.name),
    d.quoteIdent('commit_lsn'),
    d.quoteIdent('seq'),
    d.quoteIdent('commit_time'),
    d.currentTimestamp,
  ];
  return d.upsert(d.metaTable, columns, KEY_COLUMNS, `SELECT ${exprs.join(', ')} FROM ${qualified(d, d.metaTable)} WHERE ${keyWhere(d, from)}`);
}

function keyWhere(d: SqlDialect, k: WatermarkKey): string {
  const values = [k.flowId, k.source.schema, k.source.name, k.target.schema, k.target.name];
  return KEY_COLUMNS.map((c, i) => `${d.quoteIdent(c)} = ${d.quoteString(values[i]!)}`).join(' AND ');
}

export function deleteWatermark(d: SqlDialect, k: WatermarkKey): string {
  return `DELETE FROM ${qualified(d, d.metaTable)} WHERE ${keyWhere(d, k)}`;
}

/**
 * True when the change at (commitLsn, seq) is at or before the watermark: already applied.
 * Snapshot rows (`op: 'read'`, backfill) sit just below the backfill's hold LSN H with negative
 * seqs; their `commitEndLsn` is the snapshot's LSN S (≥ H). They count as applied only once a
 * streamed change after S has been (then the stream owns the table's rows and a snapshot row could
 * regress one), never because of another snapshot row or of a streamed change between H and S (a
 * stream that had not yet seen the hold wrote it; the snapshot already reflects it), so chunks of
 * one backfill in any order apply.
 */
export function isApplied(w: Watermark | undefined, c: { commitLsn: Lsn; seq: number; op?: string; commitEndLsn?: Lsn }): boolean {
  if (!w) return false;
  if (c.op === 'read') {
    const upTo = c.commitEndLsn !== undefined && c.commitEndLsn > c.commitLsn ? c.commitEndLsn : c.commitLsn;
    return upTo < w.commitLsn || (upTo === w.commitLsn && w.seq >= 0);
  }
  return c.commitLsn < w.commitLsn || (c.commitLsn === w.commitLsn && c.seq <= w.seq);
}

export function laterWatermark(a: Watermark | undefined, b: Watermark | undefined): Watermark | undefined {
  if (!a) return b;
  if (!b) return a;
  return isApplied(a, b) ? a : b;
}
