import { queryDuckDbFile } from './duckdbFile';
import type { TestDatabase } from './pg';
import { runWorker } from './worker';

/** Shared pieces of the schema-change tests (test/integration/ddl-*). */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 250 ms until it returns a value (not undefined). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** One worker run of `flowId` until its first empty read; throws with the worker's stderr when it fails. */
export async function runFlowOnce(flowId: string, env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<void> {
  const r = await runWorker(['-flow-id', flowId, '-max-empty-reads', '1'], env, timeoutMs);
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
}

/** A row of `ductstream.ddl_events` as the tests read it (straight from the state database). */
export interface StoredDdlEvent {
  id: number;
  table: string;
  kind: string;
  ddl: string | null;
  status: string;
  reason: string;
}

export async function storedDdlEvents(state: TestDatabase, flowId: string): Promise<StoredDdlEvent[]> {
  return state.query<StoredDdlEvent & Record<string, unknown>>(
    `SELECT id::int AS id, table_schema || '.' || table_name AS "table", kind, ddl, status, reason FROM ductstream.ddl_events WHERE flow_id = $1 ORDER BY id`,
    [flowId],
  );
}

/** The columns (name, DuckDB type) of `schema.table` in a DuckDB file, in order. */
export async function duckColumns(file: string, table = 'items', schema = 'public'): Promise<Array<[string, string]>> {
  const rows = await queryDuckDbFile(
    file,
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = '${table}' ORDER BY ordinal_position`,
  );
  return rows.map((r) => [String(r.column_name), String(r.data_type)]);
}

/** Expects the rows of `cols` (as text, ordered by id) of `public.items` equal in the source and a DuckDB file, and not empty. */
export async function expectDuckItemsEqual(source: TestDatabase, file: string, cols: string[], table = 'public.items'): Promise<void> {
  const src = await source.query(`SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM ${table} ORDER BY id`);
  const dst = await queryDuckDbFile(file, `SELECT ${cols.map((c) => `${c}::VARCHAR AS ${c}`).join(', ')} FROM ${table} ORDER BY id`);
  expect(dst).toEqual(src);
  expect(dst.length).toBeGreaterThan(0);
}
