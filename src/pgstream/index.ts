/**
 * The Postgres-backed stream store (schema `ductstream_stream`): the event log, consumer groups, the
 * backlog queries and where a flow's pgstream destination writes. One module used by the pgstream
 * destination (writes) and by the stream service of the API and admin CLI (reads, acks, replays);
 * it imports neither of them.
 */
export { PGSTREAM_DEFAULTS, parsePgstreamConfig, pgstreamTargetOf, streamNameOf, type PgstreamConfig } from './config';
export { STREAM_SCHEMA, ensureStreamSchema } from './schema';
export * from './types';
