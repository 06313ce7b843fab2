/**
 * Registers every destination kind. Each kind's `index.ts` is light (config parsing only) and
 * loads its driver inside `create`, so importing this file loads no destination driver.
 */
export { registerDestinationKind, getDestinationKind, destinationKinds } from './registry';
export type { DestinationKind, DestinationContext } from './registry';

import { registerDestinationKind } from './registry';
import { clickhouseDestinationKind } from './clickhouse';
import { duckdbDestinationKind } from './duckdb';
import { pgstreamDestinationKind } from './pgstream';
import { bufstreamDestinationKind, kafkaDestinationKind } from './kafka';
import { httpDestinationKind } from './http';
import { s3DestinationKind } from './s3';
import { snowflakeDestinationKind } from './snowflake';
import { snowpipeDestinationKind } from './snowpipe';

registerDestinationKind(duckdbDestinationKind);
registerDestinationKind(clickhouseDestinationKind);
registerDestinationKind(pgstreamDestinationKind);
registerDestinationKind(kafkaDestinationKind);
registerDestinationKind(bufstreamDestinationKind);
registerDestinationKind(httpDestinationKind);
registerDestinationKind(s3DestinationKind);
registerDestinationKind(snowflakeDestinationKind);
registerDestinationKind(snowpipeDestinationKind);
