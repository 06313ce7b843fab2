import type { Client, QueryResultRow } from 'pg';

/** Runs one catalog query and returns its rows; implemented over a normal (non-replication) connection. */
export type CatalogQuery = <T extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<T[]>;

export function catalogQueryOf(client: Client): CatalogQuery {
  return async <T extends QueryResultRow>(sql: string, params?: unknown[]) => (await client.query<T>(sql, params)).rows;
}
