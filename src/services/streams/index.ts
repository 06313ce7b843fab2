/** Postgres-backed streams with consumer groups: used by the pgstream destination, the gRPC API and the admin CLI. */
export { StreamService, type StreamServiceOptions, type LocatedStreamInfo } from './service';
export { FlowStreamLocator, streamLocationsOf, type StreamLocation } from './locate';
export { STREAM_SCHEMA, ensureStreamSchema } from '../../pgstream/schema';
export { parseIdList, parseInstant, parseEventId, validatePull, validateAck, validateReplay, validateStreamName, MAX_ACK_IDS } from './validate';
export * from '../../pgstream/types';
