import { dsnPaths } from '../../config/localPaths';
import type { DestinationKind } from '../registry';
import { parsePgstreamConfig, type PgstreamConfig } from '../../pgstream/config';

/**
 * The `pgstream` destination kind: every change as one event (encoded in the flow's wire format)
 * in a Postgres-backed stream with consumer groups (src/services/streams). Parsing the options
 * loads nothing; `create` imports the writer lazily.
 */
export const pgstreamDestinationKind: DestinationKind<PgstreamConfig> = {
  kind: 'pgstream',
  usesWireFormat: true,
  parseConfig: parsePgstreamConfig,
  localPaths: (options) => dsnPaths(options, 'dsn'),
  async create(config, ctx) {
    const { PgstreamDestination } = await import('./destination');
    return new PgstreamDestination(config, ctx);
  },
};

export { parsePgstreamConfig, streamNameOf, pgstreamTargetOf, PGSTREAM_DEFAULTS } from '../../pgstream/config';
export type { PgstreamConfig } from '../../pgstream/config';
