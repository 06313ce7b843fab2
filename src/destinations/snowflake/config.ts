import { OptionReader, type OptionMap } from '../../config/options';
import { readWarehouseOptions, type WarehouseOptions } from '../sql/options';
import { readSnowflakeConnection, type SnowflakeConnectionConfig } from './connection';

/** The one place the snowflake destination's own options get their defaults (shared ones: `WAREHOUSE_DEFAULTS`). */
export const SNOWFLAKE_DEFAULTS = {
  meta_schema: 'DUCTSTREAM_META',
  meta_table: '__METADATA',
  meta_pk_prefix: 'pk_',
} as const;

/**
 * The snowflake destination's options (docs/usage.md, "snowflake", plus the metadata,
 * append/soft-delete and type-mapping options every table destination takes), typed.
 */
export interface SnowflakeConfig extends WarehouseOptions {
  connection: SnowflakeConnectionConfig;
  /** Schema of the meta table and of the destination's raw load tables. */
  metaSchema: string;
  metaTable: string;
  /** Prefix of the meta table's per-key-column columns (`pk_id`). */
  metaPkPrefix: string;
}

/** Parses a snowflake destination's options; `path` is their field path. Reads `private_key_path`. */
export function parseSnowflakeConfig(options: OptionMap, path: string): SnowflakeConfig {
  const r = new OptionReader(options, path);
  const connection = readSnowflakeConnection(r);
  const warehouse = readWarehouseOptions(r, path);
  const d = SNOWFLAKE_DEFAULTS;
  const config: SnowflakeConfig = {
    ...warehouse,
    connection,
    metaSchema: r.string('meta_schema', d.meta_schema),
    metaTable: r.string('meta_table', d.meta_table),
    metaPkPrefix: r.string('meta_pk_prefix', d.meta_pk_prefix),
  };
  r.accept('format');
  r.rejectUnknown();
  return config;
}
