import type { TableRef } from '../../core/change';
import { epochMicrosToTimestamp } from '../../core/time';
import { qualified, type QualifiedName } from '../sql/dialect';
import type { TableLayout } from '../sql/layout';
import type { WatermarkMove } from '../sql/apply-strategy';
import { quoteIdent, quoteString, snowflakeSyntax as sx } from './dialect';
import { RAW } from './raw';

const q = quoteIdent;
const s = quoteString;

/**
 * The meta table `meta_schema.meta_table` (docs/usage.md, "snowflake": `meta_schema`, `meta_table`): one
 * row per (flow, source table, key) with the last change applied to that key — `synced_at`,
 * `is_deleted`, `lsn`, `operation`, `key_json` (the key as a JSON object of text values) and one
 * `<meta_pk_prefix><column>` VARCHAR per key column (added when a table with a new key column
 * appears). It is merged in the same transaction as the data.
 */
export interface MetaTableNames {
  table: QualifiedName;
  pkPrefix: string;
}

export function createKeyMetaTable(m: MetaTableNames): string[] {
  const cols = [
    'flow_id VARCHAR',
    'source_schema VARCHAR',
    'source_table VARCHAR',
    'key_json VARCHAR',
    'synced_at TIMESTAMP_TZ(6)',
    'is_deleted BOOLEAN',
    'lsn NUMBER(20,0)',
    'operation VARCHAR',
  ].map((c) => {
    const [name, type] = c.split(' ') as [string, string];
    return `${q(name)} ${type}`;
  });
  return [
    `CREATE SCHEMA IF NOT EXISTS ${q(m.table.schema)}`,
    `CREATE TABLE IF NOT EXISTS ${qualified(sx, m.table)} (${cols.join(', ')}, PRIMARY KEY (${['flow_id', 'source_schema', 'source_table', 'key_json'].map(q).join(', ')}))`,
  ];
}

/** `ALTER TABLE ... ADD COLUMN IF NOT EXISTS` for the key columns of `layout`. */
export function addKeyColumns(m: MetaTableNames, layout: TableLayout): string[] {
  return layout.key.map((k) => `ALTER TABLE ${qualified(sx, m.table)} ADD COLUMN IF NOT EXISTS ${q(m.pkPrefix + k)} VARCHAR`);
}

/** Merges the latest raw row per key of `raw` into the meta table. */
export function mergeKeyMeta(m: MetaTableNames, flowId: string, source: TableRef, layout: TableLayout, raw: QualifiedName): string {
  const r = (n: string): string => `r.${q(n)}`;
  const pk = layout.key.map((k) => q(m.pkPrefix + k));
  const select = [
    `${s(flowId)} AS ${q('flow_id')}`,
    `${s(source.schema)} AS ${q('source_schema')}`,
    `${s(source.name)} AS ${q('source_table')}`,
    `${r(RAW.keyJson)} AS ${q('key_json')}`,
    ...layout.key.map((k, i) => `${r(k)} AS ${pk[i]!}`),
    `CAST(${r(RAW.deleted)} AS BOOLEAN) AS ${q('is_deleted')}`,
    `CAST(${r(RAW.lsn)} AS NUMBER(20,0)) AS ${q('lsn')}`,
    `${r(RAW.op)} AS ${q('operation')}`,
  ];
  const order = `CAST(${r(RAW.lsn)} AS NUMBER(20,0)) DESC, CAST(${r(RAW.seq)} AS NUMBER(38,0)) DESC, CAST(${r(RAW.ord)} AS NUMBER(38,0)) DESC`;
  const from = `SELECT ${select.join(', ')} FROM ${qualified(sx, raw)} AS r QUALIFY ROW_NUMBER() OVER (PARTITION BY ${r(RAW.keyJson)} ORDER BY ${order}) = 1`;
  const on = ['flow_id', 'source_schema', 'source_table', 'key_json'].map((c) => `m.${q(c)} = s.${q(c)}`).join(' AND ');
  const update = ['is_deleted', 'lsn', 'operation'].map((c) => `${q(c)} = s.${q(c)}`);
  const insert = ['flow_id', 'source_schema', 'source_table', 'key_json'].map(q).concat(pk, [q('synced_at'), q('is_deleted'), q('lsn'), q('operation')]);
  const values = ['flow_id', 'source_schema', 'source_table', 'key_json']
    .map((c) => `s.${q(c)}`)
    .concat(
      pk.map((p) => `s.${p}`),
      [sx.currentTimestamp, `s.${q('is_deleted')}`, `s.${q('lsn')}`, `s.${q('operation')}`],
    );
  return (
    `MERGE INTO ${qualified(sx, m.table)} AS m USING (${from}) AS s ON ${on} ` +
    `WHEN MATCHED THEN UPDATE SET ${q('synced_at')} = ${sx.currentTimestamp}, ${update.join(', ')} ` +
    `WHEN NOT MATCHED THEN INSERT (${insert.join(', ')}) VALUES (${values.join(', ')})`
  );
}

const WM_KEY = ['flow_id', 'source_schema', 'source_table', 'target_schema', 'target_table'];

/** Moves one watermark row (MERGE: inserted the first time), in the batch's transaction. */
export function mergeWatermark(table: QualifiedName, w: WatermarkMove): string {
  const k = w.key;
  const values = [k.flowId, k.source.schema, k.source.name, k.target.schema, k.target.name].map((v, i) => `${s(v)} AS ${q(WM_KEY[i]!)}`);
  values.push(`CAST(${String(w.to.commitLsn)} AS NUMBER(20,0)) AS ${q('commit_lsn')}`);
  values.push(`${w.to.seq} AS ${q('seq')}`);
  values.push(`CAST(${s(epochMicrosToTimestamp(w.commitTimeMicros, true))} AS TIMESTAMP_TZ(6)) AS ${q('commit_time')}`);
  const on = WM_KEY.map((c) => `m.${q(c)} = s.${q(c)}`).join(' AND ');
  const rest = ['commit_lsn', 'seq', 'commit_time'];
  return (
    `MERGE INTO ${qualified(sx, table)} AS m USING (SELECT ${values.join(', ')}) AS s ON ${on} ` +
    `WHEN MATCHED THEN UPDATE SET ${rest.map((c) => `${q(c)} = s.${q(c)}`).join(', ')}, ${q('updated_at')} = ${sx.currentTimestamp} ` +
    `WHEN NOT MATCHED THEN INSERT (${[...WM_KEY, ...rest, 'updated_at'].map(q).join(', ')}) ` +
    `VALUES (${[...WM_KEY, ...rest].map((c) => `s.${q(c)}`).join(', ')}, ${sx.currentTimestamp})`
  );
}
