import { OptionReader, type OptionMap } from '../../config/options';
import { invalidArgument } from '../../core/errors';
import { readWarehouseOptions, type WarehouseOptions } from '../sql/options';

/**
 * The DuckDB destination's options (docs/usage.md, "duckdb" and "Table destinations:
 * options they share"), typed. Defaults of the shared warehouse
 * options live in `WAREHOUSE_DEFAULTS`; `dsn` has none.
 */
export interface DuckdbConfig extends WarehouseOptions {
  /** A file path (created with its parent directories when missing) or `:memory:`. */
  dsn: string;
  /** Field path of `dsn`, e.g. `destinations[0].options.dsn`, for errors found when opening. */
  dsnField: string;
  /**
   * DuckDB's `memory_limit` for the database (`512MB`, `1GB`...): a hard cap on its buffer
   * manager (cached blocks beyond it are evicted; what cannot be, such as a primary key's index
   * while rows are written, fails with an out-of-memory error). Unset: DuckDB's default, 80% of RAM.
   */
  memoryLimit?: string;
  /**
   * `backfill_csv` (default true): backfill chunks of tables whose columns all have a CSV load
   * (`snapshot-file.ts`) go from PostgreSQL's `COPY … (FORMAT csv)` to a temporary file that
   * DuckDB's `read_csv` loads, without decoding rows in JS; false: every chunk as decoded rows.
   */
  backfillCsv: boolean;
}

const MEMORY_LIMIT = /^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

/**
 * Parses the options of a DuckDB destination; `path` is the options' field path (e.g.
 * `destinations[0].options`). Unknown keys are rejected. `format` is accepted and ignored: DuckDB
 * receives typed rows, not an encoded wire format.
 */
export function parseDuckdbConfig(options: OptionMap, path: string): DuckdbConfig {
  const r = new OptionReader(options, path);
  const dsn = r.required('dsn', 'set dsn to a DuckDB file path such as ./data/warehouse.duckdb, or :memory:');
  const warehouse = readWarehouseOptions(r, path);
  const memoryLimit = r.optionalString('memory_limit');
  if (memoryLimit !== undefined && !MEMORY_LIMIT.test(memoryLimit)) {
    throw invalidArgument(r.field('memory_limit'), `"${memoryLimit}" is not a memory size`, 'use a size such as 512MB or 2GB');
  }
  const backfillCsv = r.bool('backfill_csv', true);
  r.accept('format');
  r.rejectUnknown();
  return { ...warehouse, dsn, dsnField: r.field('dsn'), backfillCsv, ...(memoryLimit !== undefined ? { memoryLimit } : {}) };
}
