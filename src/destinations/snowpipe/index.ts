import type { DestinationKind } from '../registry';
import { parseSnowpipeConfig, type SnowpipeConfig } from './config';

/**
 * The `snowpipe` destination kind: files of rows into a Snowflake stage, loaded with COPY INTO (or
 * by a pipe). Its files are its own (`format`), not the flow's wire format. `create` imports
 * snowflake-sdk lazily.
 */
export const snowpipeDestinationKind: DestinationKind<SnowpipeConfig> = {
  kind: 'snowpipe',
  usesWireFormat: false,
  parseConfig: parseSnowpipeConfig,
  async create(config, ctx) {
    const { SnowpipeDestination } = await import('./destination');
    return new SnowpipeDestination(config, ctx);
  },
};

export type { SnowpipeConfig } from './config';
