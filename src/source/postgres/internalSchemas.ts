import type { PostgresSourceConfig } from './config';

/** Schemas of DuctStream's and DBOS's own tables: never published, their changes never delivered. */
export const ALWAYS_INTERNAL_SCHEMAS = ['ductstream', 'dbos'] as const;

export function internalSchemasOf(config: Pick<PostgresSourceConfig, 'stateSchema' | 'snapshot'>): ReadonlySet<string> {
  return new Set<string>([...ALWAYS_INTERNAL_SCHEMAS, config.stateSchema, config.snapshot.stateSchema]);
}
