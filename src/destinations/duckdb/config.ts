import { OptionReader, type OptionMap } from '../../config/options';
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
}

/**
 * Parses the options of a DuckDB destination; `path` is the options' field path (e.g.
 * `destinations[0].options`). Unknown keys are rejected. `format` is accepted and ignored: DuckDB
 * receives typed rows, not an encoded wire format.
 */
export function parseDuckdbConfig(options: OptionMap, path: string): DuckdbConfig {
  const r = new OptionReader(options, path);
  const dsn = r.required('dsn', 'set dsn to a DuckDB file path such as ./data/warehouse.duckdb, or :memory:');
  const warehouse = readWarehouseOptions(r, path);
  r.accept('format');
  r.rejectUnknown();
  return { ...warehouse, dsn, dsnField: r.field('dsn') };
}
