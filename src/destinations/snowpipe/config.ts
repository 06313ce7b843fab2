import { OptionReader, type OptionMap } from '../../config/options';
import { invalidArgument } from '../../core/errors';
import { readSnowflakeConnection, type SnowflakeConnectionConfig } from '../snowflake/connection';
import { readWarehouseOptions, type WarehouseOptions } from '../sql/options';

export type SnowpipeFormat = 'parquet' | 'avro' | 'json';

/** The one place the snowpipe destination's options get their defaults. */
export const SNOWPIPE_DEFAULTS = {
  format: 'parquet' as SnowpipeFormat,
  copy_on_write: true,
  auto_ingest: false,
  meta_table_enabled: true,
} as const;

/**
 * The snowpipe destination's options (docs/usage.md, "snowpipe"), typed. The stage is an
 * internal named stage (`stage`, `@` optional) or, without `stage`, the table stage of
 * `schema.table` (`@%schema.table` may also be given as `stage`).
 */
export interface SnowpipeConfig {
  path: string;
  connection: SnowflakeConnectionConfig;
  /** The stage reference as written in PUT and COPY, e.g. `"RAW"."LANDING"` or `"RAW".%"ORDERS"`. */
  stageRef: string;
  /** The stage as the user named it, for messages. */
  stageLabel: string;
  /** Prefix inside the stage, without leading/trailing `/` (may be empty). */
  stagePath: string;
  schema: string | undefined;
  table: string | undefined;
  format: SnowpipeFormat;
  /** A named file format object for COPY; default: `TYPE = <format>` inline. */
  fileFormat: string | undefined;
  /** Run COPY INTO schema.table after each upload (false when `auto_ingest` is set). */
  copyOnWrite: boolean;
  autoIngest: boolean;
  /** Keep a per-table watermark in `DUCTSTREAM_META.__METADATA_WATERMARKS`: changes at or before it are not uploaded again. */
  metaTableEnabled: boolean;
  /**
   * The shared table options as they apply to files: `writeMode` is always `append` (Snowpipe
   * appends); `meta` (`meta_enabled`, `append_mode`) adds the metadata columns; type mappings name
   * the target table's column types when it is created for COPY.
   */
  tableOptions: WarehouseOptions;
  /** `append_mode` or `meta_enabled`: files carry the operation and position columns. */
  withMetadata: boolean;
}

/** Parses a snowpipe destination's options; `path` is their field path. */
export function parseSnowpipeConfig(options: OptionMap, path: string): SnowpipeConfig {
  const r = new OptionReader(options, path);
  const d = SNOWPIPE_DEFAULTS;
  const connection = readSnowflakeConnection(r);
  const schema = r.optionalString('schema');
  const table = r.optionalString('table');
  const format = r.oneOf('format', ['parquet', 'avro', 'json'] as const, d.format);
  const autoIngest = r.bool('auto_ingest', d.auto_ingest);
  const copyOnWrite = r.bool('copy_on_write', d.copy_on_write) && !autoIngest;
  if (copyOnWrite && (schema === undefined || table === undefined)) {
    throw invalidArgument(
      r.field(schema === undefined ? 'schema' : 'table'),
      'is required with copy_on_write=true (COPY INTO needs the target table)',
      'set schema and table, or copy_on_write=false / auto_ingest=true to only upload',
    );
  }
  const stageOption = r.optionalString('stage');
  const { ref, label } = stageReference(stageOption, schema, table, r.field('stage'));
  // Metadata, append and type-mapping options apply to the files' columns; the warehouse reader validates them.
  const shared = readWarehouseOptions(r, path);
  const metaTableEnabled = r.bool('meta_table_enabled', d.meta_table_enabled);
  r.accept(
    'type_mappings',
    'type_mappings_file',
    'soft_delete',
    'write_mode',
    'batch_mode',
    'batch_resolution',
    'staging_schema',
    'staging_table',
    'staging_suffix',
  );
  const config: SnowpipeConfig = {
    path,
    connection,
    stageRef: ref,
    stageLabel: label,
    stagePath: r.string('stage_path', '').replace(/^\/+|\/+$/g, ''),
    schema,
    table,
    format,
    fileFormat: r.optionalString('file_format'),
    copyOnWrite,
    autoIngest,
    metaTableEnabled,
    tableOptions: { ...shared, schema, table, writeMode: 'append', softDelete: false, metaTableEnabled: false },
    withMetadata: shared.writeMode === 'append' || shared.meta.enabled,
  };
  r.rejectUnknown();
  return config;
}

const IDENT = /^(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)$/;

function quoted(part: string): string {
  return part.startsWith('"') ? part : `"${part}"`;
}

/** `name`, `schema.name`, `db.schema.name`, `@%schema.table`, or the table stage of schema.table. */
function stageReference(stage: string | undefined, schema: string | undefined, table: string | undefined, field: string): { ref: string; label: string } {
  if (stage === undefined) {
    if (schema === undefined || table === undefined) {
      throw invalidArgument(
        field,
        'is required unless schema and table are set (then the table stage @%schema.table is used)',
        'set stage to an internal stage name, or set schema and table',
      );
    }
    return { ref: `${quoted(schema)}.%${quoted(table)}`, label: `@%${schema}.${table}` };
  }
  const s = stage.replace(/^@/, '');
  const tableStage = /^%?(.+?)\.%?([^.]+)$/.exec(s);
  if (s.startsWith('%') && tableStage) {
    return { ref: `${quoted(tableStage[1]!)}.%${quoted(tableStage[2]!)}`, label: `@${s}` };
  }
  const parts = s.split('.');
  if (parts.length > 3 || parts.some((p) => !IDENT.test(p))) {
    throw invalidArgument(field, `"${stage}" is not a stage name`, 'use a stage such as LANDING, RAW.LANDING or @%schema.table');
  }
  return { ref: parts.map(quoted).join('.'), label: `@${s}` };
}
