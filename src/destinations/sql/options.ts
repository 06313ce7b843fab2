import type { LocalPathOption } from '../../config/localPaths';
import type { OptionMap, OptionReader } from '../../config/options';
import { invalidArgument } from '../../core/errors';
import { loadTypeMappings, type TypeMappings } from './type-mappings';

/** How rows reach the destination table. */
export type WriteMode = 'target' | 'append';
export type BatchMode = 'target' | 'staging';
export type BatchResolution = 'none' | 'append' | 'replace';
export type WatermarkSource = 'timestamp' | 'lsn';

/** Names of the metadata columns a destination table may carry (docs/usage.md, "Table destinations: options they share"). */
export interface MetaColumnOptions {
  /** `meta_enabled`: add synced-at, deleted, watermark and op columns to every table. */
  enabled: boolean;
  syncedAt: string;
  deleted: string;
  /** Undefined when `meta_watermark` is `-`. */
  watermark: string | undefined;
  op: string;
  watermarkSource: WatermarkSource;
}

/**
 * The options every warehouse destination (duckdb, snowflake, clickhouse) shares, typed and
 * defaulted. A kind's own `config.ts` reads these with {@link readWarehouseOptions}, adds its own
 * (dsn, ...) and calls `rejectUnknown()`.
 */
export interface WarehouseOptions {
  /** Field path of the options map, e.g. `destinations[0].options`, for errors found later. */
  path: string;
  /** Destination schema; undefined = the source table's schema. */
  schema: string | undefined;
  /**
   * Destination table; undefined = the source table's name. When set, the destination writes one
   * source table: the first it sees. A change of any other source table fails the write with an
   * error naming the `table` option (retry never), rather than mixing tables in one.
   */
  table: string | undefined;
  /** `write_mode`, with `append_mode=true` forcing `append`. */
  writeMode: WriteMode;
  batchMode: BatchMode;
  batchResolution: BatchResolution;
  stagingSchema: string | undefined;
  stagingTable: string | undefined;
  stagingSuffix: string;
  /** Keep per-table stream watermarks in the destination's meta table (idempotent replays). */
  metaTableEnabled: boolean;
  meta: MetaColumnOptions;
  /** Deletes (and truncates) mark rows with the `meta_deleted` column instead of removing them. */
  softDelete: boolean;
  typeMappings: TypeMappings;
  /** `ddl_drop_columns`: a column dropped at the source is dropped here too (default: kept, NULL in new rows). */
  dropColumns: boolean;
}

/** The one place the shared warehouse options get their defaults. */
export const WAREHOUSE_DEFAULTS = {
  write_mode: 'target' as WriteMode,
  batch_mode: 'target' as BatchMode,
  batch_resolution: 'none' as BatchResolution,
  staging_suffix: '_staging',
  meta_table_enabled: true,
  meta_enabled: false,
  meta_synced_at: '__ds_synced_at',
  meta_deleted: '__ds_is_deleted',
  meta_watermark: '__ds_watermark',
  meta_op: '__ds_op',
  watermark_source: 'timestamp' as WatermarkSource,
  soft_delete: false,
  append_mode: false,
  ddl_drop_columns: false,
} as const;

/** `meta_watermark` set to this disables the watermark column. */
export const DISABLED_COLUMN = '-';

export function readWarehouseOptions(r: OptionReader, path: string): WarehouseOptions {
  const d = WAREHOUSE_DEFAULTS;
  const appendMode = r.bool('append_mode', d.append_mode);
  const writeMode = r.oneOf('write_mode', ['target', 'append'] as const, d.write_mode);
  const watermark = r.string('meta_watermark', d.meta_watermark);
  const meta: MetaColumnOptions = {
    enabled: r.bool('meta_enabled', d.meta_enabled),
    syncedAt: r.string('meta_synced_at', d.meta_synced_at),
    deleted: r.string('meta_deleted', d.meta_deleted),
    watermark: watermark === DISABLED_COLUMN ? undefined : watermark,
    op: r.string('meta_op', d.meta_op),
    watermarkSource: r.oneOf('watermark_source', ['timestamp', 'lsn'] as const, d.watermark_source),
  };
  const names = [
    ['meta_synced_at', meta.syncedAt],
    ['meta_deleted', meta.deleted],
    ['meta_op', meta.op],
    ['meta_watermark', meta.watermark],
  ] as const;
  const seen = new Map<string, string>();
  for (const [key, name] of names) {
    if (name === undefined) continue;
    const other = seen.get(name.toLowerCase());
    if (other) throw invalidArgument(r.field(key), `"${name}" is also the name of ${other}`, 'give each metadata column its own name');
    seen.set(name.toLowerCase(), key);
  }
  return {
    path,
    schema: r.optionalString('schema'),
    table: r.optionalString('table'),
    writeMode: appendMode ? 'append' : writeMode,
    batchMode: r.oneOf('batch_mode', ['target', 'staging'] as const, d.batch_mode),
    batchResolution: r.oneOf('batch_resolution', ['none', 'append', 'replace'] as const, d.batch_resolution),
    stagingSchema: r.optionalString('staging_schema'),
    stagingTable: r.optionalString('staging_table'),
    stagingSuffix: r.string('staging_suffix', d.staging_suffix),
    metaTableEnabled: r.bool('meta_table_enabled', d.meta_table_enabled),
    meta,
    softDelete: r.bool('soft_delete', d.soft_delete),
    dropColumns: r.bool('ddl_drop_columns', d.ddl_drop_columns),
    typeMappings: loadTypeMappings(
      r.optionalString('type_mappings'),
      r.field('type_mappings'),
      r.optionalString('type_mappings_file'),
      r.field('type_mappings_file'),
    ),
  };
}

/** The shared warehouse options that name local files: `type_mappings_file`. */
export function warehouseLocalPaths(options: OptionMap): LocalPathOption[] {
  const file = options.type_mappings_file?.trim();
  return file ? [{ key: 'type_mappings_file', path: file }] : [];
}
