import type { DestinationKind } from '../registry';
import { warehouseLocalPaths } from '../sql/options';
import { parseDuckdbConfig, type DuckdbConfig } from './config';

/**
 * The `duckdb` destination kind: typed rows into a DuckDB file (no wire format). Parsing the
 * options loads no driver; `create` imports `@duckdb/node-api` lazily.
 */
export const duckdbDestinationKind: DestinationKind<DuckdbConfig> = {
  kind: 'duckdb',
  usesWireFormat: false,
  parseConfig: parseDuckdbConfig,
  localPaths: (options) => {
    const dsn = options.dsn?.trim();
    const file = dsn && dsn !== ':memory:' ? [{ key: 'dsn', path: dsn }] : [];
    return [...file, ...warehouseLocalPaths(options)];
  },
  async create(config, ctx) {
    const { DuckdbDestination } = await import('./destination');
    return new DuckdbDestination(config, ctx);
  },
};

export type { DuckdbConfig } from './config';
