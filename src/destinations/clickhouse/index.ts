import type { DestinationKind } from '../registry';
import { parseClickhouseConfig, type ClickhouseConfig } from './config';

/**
 * The `clickhouse` destination kind: typed rows into ClickHouse over HTTP (no wire format).
 * Parsing the options loads no driver; `create` imports `@clickhouse/client` lazily.
 */
export const clickhouseDestinationKind: DestinationKind<ClickhouseConfig> = {
  kind: 'clickhouse',
  usesWireFormat: false,
  parseConfig: parseClickhouseConfig,
  async create(config, ctx) {
    const { ClickhouseDestination } = await import('./destination');
    return new ClickhouseDestination(config, ctx);
  },
};

export type { ClickhouseConfig } from './config';
