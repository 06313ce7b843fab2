import { DuckDBInstance } from '@duckdb/node-api';

export type DuckRow = Record<string, unknown>;

/**
 * Runs a query on a DuckDB file (read-only) and returns JSON-friendly rows (BIGINT and DECIMAL as
 * strings), then closes the file so a worker process can open it again.
 */
export async function queryDuckDbFile(path: string, sql: string): Promise<DuckRow[]> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const conn = await instance.connect();
    try {
      return (await conn.runAndReadAll(sql)).getRowObjectsJson();
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
