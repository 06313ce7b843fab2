import { OptionReader, type OptionMap } from '../../config/options';
import { invalidArgument } from '../../core/errors';
import { readWarehouseOptions, type WarehouseOptions } from '../sql/options';

/**
 * How changes reach ClickHouse tables (`apply_mode`):
 * - `versioned` (default): `ReplacingMergeTree(__ds_version, __ds_row_deleted)` tables; every change is
 *   appended as a row whose version is its stream position, deletes as deleted rows; readers use `FINAL`.
 * - `mutations`: `MergeTree` tables changed in place with `ALTER TABLE … DELETE/UPDATE` (`mutations_sync=2`)
 *   and inserts; plain reads, much slower writes.
 */
export type ClickhouseApplyMode = 'versioned' | 'mutations';

/** Columns of the ClickHouse meta table, in order (what `meta_order_by` may name). */
export const META_COLUMNS = [
  'flow_id',
  'source_schema',
  'source_table',
  'target_schema',
  'target_table',
  'key_json',
  'commit_lsn',
  'seq',
  'commit_time',
  'updated_at',
] as const;

/** The one place the ClickHouse destination's own options get their defaults. */
export const CLICKHOUSE_DEFAULTS = {
  apply_mode: 'versioned' as ClickhouseApplyMode,
  meta_engine: 'MergeTree',
  meta_order_by: 'flow_id, source_schema, source_table, key_json',
  request_timeout: 60_000,
} as const;

/** The ClickHouse destination's options (docs/usage.md, "clickhouse"), typed. */
export interface ClickhouseConfig extends WarehouseOptions {
  /** `http(s)://user:password@host:port/database`. */
  dsn: string;
  dsnField: string;
  applyMode: ClickhouseApplyMode;
  /** Engine of the meta table, e.g. `MergeTree`, `ReplacingMergeTree`. */
  metaEngine: string;
  /** Sorting key columns of the meta table (each one of {@link META_COLUMNS}). */
  metaOrderBy: string[];
  requestTimeoutMs: number;
}

/** An engine name, with optional arguments: `MergeTree`, `ReplacingMergeTree(updated_at)`. */
const ENGINE = /^[A-Za-z]*MergeTree(\([A-Za-z0-9_, ']*\))?$/;

/**
 * Parses the options of a ClickHouse destination; `path` is the options' field path. `database` is
 * a synonym of `schema` (give one). Unknown keys are rejected; `format` is accepted and ignored.
 */
export function parseClickhouseConfig(options: OptionMap, path: string): ClickhouseConfig {
  const r = new OptionReader(options, path);
  const d = CLICKHOUSE_DEFAULTS;
  const dsn = r.required('dsn', 'set dsn to http(s)://user:password@host:port/database');
  checkDsn(dsn, r.field('dsn'));
  const database = r.optionalString('database');
  if (database !== undefined && r.optionalString('schema') !== undefined) {
    throw invalidArgument(r.field('database'), 'is given together with schema, its synonym', 'set one of database or schema');
  }
  const warehouse = readWarehouseOptions(r, path);
  const metaEngine = r.string('meta_engine', d.meta_engine).trim();
  if (!ENGINE.test(metaEngine))
    throw invalidArgument(r.field('meta_engine'), `"${metaEngine}" is not a MergeTree-family engine`, 'use MergeTree or ReplacingMergeTree');
  const metaOrderBy = r
    .string('meta_order_by', d.meta_order_by)
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  const known: readonly string[] = META_COLUMNS;
  const unknown = metaOrderBy.find((c) => !known.includes(c));
  if (metaOrderBy.length === 0 || unknown !== undefined) {
    throw invalidArgument(
      r.field('meta_order_by'),
      unknown === undefined ? 'names no column' : `names "${unknown}", which is not a column of the meta table`,
      `use columns of: ${META_COLUMNS.join(', ')}`,
    );
  }
  const applyMode = r.oneOf('apply_mode', ['versioned', 'mutations'] as const, d.apply_mode);
  const requestTimeoutMs = r.durationMs('request_timeout', d.request_timeout, { minMs: 1000 });
  r.accept('format');
  r.rejectUnknown();
  return {
    ...warehouse,
    schema: database ?? warehouse.schema,
    dsn,
    dsnField: r.field('dsn'),
    applyMode,
    metaEngine,
    metaOrderBy,
    requestTimeoutMs,
  };
}

/** Checks the shape of the dsn (never printing it: it may hold a password). */
function checkDsn(dsn: string, field: string): void {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw invalidArgument(field, 'is not a URL', 'use http(s)://user:password@host:port/database');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidArgument(field, `has scheme ${url.protocol.replace(':', '')}, not http or https`, 'use http(s)://user:password@host:port/database');
  }
}
