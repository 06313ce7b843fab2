import type { DestinationKind } from '../registry';
import { parseSnowflakeConfig, type SnowflakeConfig } from './config';

/**
 * The `snowflake` destination kind: typed rows merged into Snowflake tables. Parsing the options
 * loads no driver (it reads `private_key_path`); `create` imports snowflake-sdk lazily.
 */
export const snowflakeDestinationKind: DestinationKind<SnowflakeConfig> = {
  kind: 'snowflake',
  usesWireFormat: false,
  parseConfig: parseSnowflakeConfig,
  async create(config, ctx) {
    const { SnowflakeDestination } = await import('./destination');
    return new SnowflakeDestination(config, ctx);
  },
};

export type { SnowflakeConfig } from './config';
