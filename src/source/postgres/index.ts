/**
 * The PostgreSQL source: options (config.ts), preparation of the source database (prepare.ts),
 * and the streaming source (source.ts). The raw drain baseline of the benches is tools/rawDrain.ts.
 */
export { parsePostgresSourceConfig, POSTGRES_SOURCE_DEFAULTS } from './config';
export type { PostgresSourceConfig, SnapshotConfig, SnapshotStateBackend, SyncPublicationMode } from './config';
export { preparePostgresSource } from './prepare';
export type { PrepareDeps, PrepareResult } from './prepare';
export { PostgresSource } from './source';
export type { PostgresSourceDeps, PostgresSourceStats } from './source';
export { internalSchemasOf } from './internalSchemas';
export { quoteIdent, quoteTable, parseQualifiedTable } from './identifiers';
export { clientConfigFromDsn, STABLE_SESSION_SETTINGS } from './dsn';
