/**
 * Test kit for DuckDB destinations: each test file gets a temporary directory of database files;
 * destinations opened through the kit are closed after each test. Reading back returns DuckDB's
 * exact text of every value (`CAST(... AS VARCHAR)`), NULL as null.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdbDestinationKind } from '../../src/destinations/duckdb';
import type { DuckdbDestination } from '../../src/destinations/duckdb/destination';
import { destinationContext } from './changes';

export interface DuckdbTestKit {
  dir: string;
  /** A fresh database file path in the kit's directory. */
  newFile(): string;
  /** Parses `options` as `destinations[0].options`, creates and opens the destination. */
  destination(options: Record<string, string>, flowId?: string): Promise<DuckdbDestination>;
  /** Keeps `d` to be closed after the test (for destinations made without `destination`). */
  track(d: DuckdbDestination): DuckdbDestination;
}

/** Call at the top of a test file: registers the afterEach/afterAll cleanup. */
export function duckdbTestKit(): DuckdbTestKit {
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-duckdb-'));
  const open: DuckdbDestination[] = [];
  let fileNo = 0;
  afterEach(async () => {
    for (const d of open.splice(0)) await d.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const track = (d: DuckdbDestination): DuckdbDestination => (open.push(d), d);
  return {
    dir,
    newFile: () => join(dir, `db${fileNo++}.duckdb`),
    track,
    async destination(options, flowId = 'flow-1') {
      const config = duckdbDestinationKind.parseConfig(options, 'destinations[0].options');
      const d = (await duckdbDestinationKind.create(config, destinationContext(flowId))) as DuckdbDestination;
      await d.open();
      return track(d);
    },
  };
}

/** Rows of a query, values as DuckDB's JSON-friendly JS (text for exact numbers), NULL as null. */
export async function queryRows(d: DuckdbDestination, sql: string): Promise<Record<string, string | null>[]> {
  const r = await d.connection.runAndReadAll(sql);
  return r.getRowObjectsJson() as Record<string, string | null>[];
}

/** Every column of `name` (`schema.table`) as DuckDB text, ordered by `orderBy` (column names). */
export async function tableText(d: DuckdbDestination, name: string, orderBy = 'id'): Promise<Record<string, string | null>[]> {
  const cols = await queryRows(
    d,
    `SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = '${name}' ORDER BY ordinal_position`,
  );
  const list = cols.map((c) => `CAST("${c.column_name}" AS VARCHAR) AS "${c.column_name}"`).join(', ');
  const order = orderBy
    .split(',')
    .map((c) => `src.${c.trim()}`)
    .join(', ');
  return queryRows(d, `SELECT ${list} FROM ${name} AS src ORDER BY ${order}`);
}
