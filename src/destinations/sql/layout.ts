import type { Column, TableRef, TableSchema } from '../../core/change';
import { DuctError, invalidArgument } from '../../core/errors';
import type { QualifiedName, SqlTypes } from './dialect';
import type { WarehouseOptions, WriteMode } from './options';
import { mappedType } from './type-mappings';
import { BLOB, logicalTypeOf, TEXT, type LogicalType } from './types';

/** A source column as it is stored in the destination. */
export interface DataColumn {
  name: string;
  source: Column;
  /** How values are loaded (the load table's type). */
  load: LogicalType;
  /** The destination table's column type. */
  ddlType: string;
  /** True when a `type_mappings` override applies: values load as text (or blob) and are CAST to `ddlType`. */
  cast: boolean;
}

/**
 * What a metadata column holds: `op` the change's operation, `synced_at` the write time, `deleted`
 * the soft-delete flag, `watermark` the commit time or commit LSN (`watermark_source`), `lsn`/`seq`/
 * `commit_time` the change's position and commit time (append mode).
 */
export type MetaRole = 'op' | 'synced_at' | 'deleted' | 'watermark' | 'lsn' | 'seq' | 'commit_time';

export interface MetaColumn {
  role: MetaRole;
  name: string;
  type: LogicalType;
  /** The option that names the column, for collision errors. */
  option: string;
}

/** Column names of the append-mode position columns (not configurable). */
export const APPEND_LSN_COLUMN = '__ds_lsn';
export const APPEND_SEQ_COLUMN = '__ds_seq';
export const APPEND_COMMIT_TIME_COLUMN = '__ds_commit_time';

/** One source table as one destination table: names, columns, key and metadata columns. */
export interface TableLayout {
  source: TableSchema;
  target: QualifiedName;
  mode: WriteMode;
  columns: DataColumn[];
  /** Source primary key: rows are matched by it. Empty when the source table has none. */
  key: string[];
  /** Primary key constraint of the destination table (target mode with a key); empty otherwise. */
  constraintKey: string[];
  meta: MetaColumn[];
  softDelete: boolean;
}

export function targetName(source: TableRef, o: Pick<WarehouseOptions, 'schema' | 'table'>): QualifiedName {
  return { schema: o.schema ?? source.schema, name: o.table ?? source.name };
}

export function stagingName(
  source: TableRef,
  o: Pick<WarehouseOptions, 'schema' | 'table' | 'stagingSchema' | 'stagingTable' | 'stagingSuffix'>,
): QualifiedName {
  const target = targetName(source, o);
  return { schema: o.stagingSchema ?? target.schema, name: o.stagingTable ?? target.name + o.stagingSuffix };
}

function metaColumns(o: WarehouseOptions): MetaColumn[] {
  const lsn: LogicalType = { kind: 'lsn' };
  const m = o.meta;
  const out: MetaColumn[] = [];
  const timestamptz: LogicalType = { kind: 'timestamptz' };
  if (o.writeMode === 'append' || m.enabled) out.push({ role: 'op', name: m.op, type: TEXT, option: 'meta_op' });
  if (m.enabled) out.push({ role: 'synced_at', name: m.syncedAt, type: timestamptz, option: 'meta_synced_at' });
  if (m.enabled || o.softDelete) out.push({ role: 'deleted', name: m.deleted, type: { kind: 'boolean' }, option: 'meta_deleted' });
  if (m.enabled && m.watermark !== undefined) {
    out.push({ role: 'watermark', name: m.watermark, type: m.watermarkSource === 'lsn' ? lsn : timestamptz, option: 'meta_watermark' });
  }
  if (o.writeMode === 'append') {
    out.push({ role: 'lsn', name: APPEND_LSN_COLUMN, type: lsn, option: 'write_mode' });
    out.push({ role: 'seq', name: APPEND_SEQ_COLUMN, type: { kind: 'bigint' }, option: 'write_mode' });
    out.push({ role: 'commit_time', name: APPEND_COMMIT_TIME_COLUMN, type: timestamptz, option: 'write_mode' });
  }
  return out;
}

/**
 * The layout of `schema` in the destination under options `o`. `table` is the target or staging
 * name. Throws a DuctError when a metadata column would collide with a source column.
 */
export function tableLayout(schema: TableSchema, table: QualifiedName, o: WarehouseOptions, dialect: SqlTypes): TableLayout {
  const columns = schema.columns.map((c): DataColumn => {
    const override = mappedType(c, o.typeMappings);
    if (override !== undefined) {
      return { name: c.name, source: c, load: c.valueKind === 'bytes' ? BLOB : TEXT, ddlType: override, cast: true };
    }
    const load = logicalTypeOf(c, dialect);
    return { name: c.name, source: c, load, ddlType: dialect.typeName(load), cast: false };
  });
  const meta = metaColumns(o);
  const names = new Map(columns.map((c) => [c.name.toLowerCase(), c.name]));
  for (const m of meta) {
    const source = names.get(m.name.toLowerCase());
    if (source !== undefined) {
      throw invalidArgument(
        `${o.path}.${m.option}`,
        `metadata column "${m.name}" collides with source column "${source}" of ${schema.schema}.${schema.name}`,
        `set ${m.option} to a name the source table does not use`,
      );
    }
  }
  for (const k of schema.primaryKey) {
    if (!names.has(k.toLowerCase())) {
      throw new DuctError('internal', `primary key column "${k}" of ${schema.schema}.${schema.name} is not among its columns`, { retry: 'never' });
    }
  }
  return {
    source: schema,
    target: table,
    mode: o.writeMode,
    columns,
    key: [...schema.primaryKey],
    constraintKey: o.writeMode === 'target' ? [...schema.primaryKey] : [],
    meta,
    softDelete: o.softDelete && o.writeMode === 'target',
  };
}

export function metaColumn(layout: TableLayout, role: MetaRole): MetaColumn | undefined {
  return layout.meta.find((m) => m.role === role);
}

/** A string that changes when the layout's DDL would change (cache key for "table is ensured"). */
export function layoutSignature(layout: TableLayout): string {
  return JSON.stringify([layout.target, layout.mode, layout.columns.map((c) => [c.name, c.ddlType]), layout.constraintKey, layout.meta.map((m) => m.name)]);
}
