import { queryDuckDbFile } from './duckdbFile';
import type { ClickhouseServer } from './peers/clickhouseServer';
import type { SnowflakeStandIn } from './peers/snowflake/standIn';
import type { TestDatabase } from './pg';

/** Shared reads of the primary-key-change tests (test/integration/ddl-key-changes*): keys and rows of every side. */

export type Row = Record<string, string | null>;

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${v}`;
  return JSON.stringify(v);
}

export const norm = (rows: Record<string, unknown>[]): Row[] => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, text(v)])));

/** The source table's primary key columns in key order (`pg_index`), as read back from PostgreSQL. */
export async function sourceKey(source: TestDatabase, table: string): Promise<string[]> {
  const rows = await source.query<{ attname: string }>(
    `SELECT a.attname::text AS attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])
      WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [table],
  );
  return rows.map((r) => r.attname);
}

/** A DuckDB table's primary key columns in key order. */
export async function duckKey(file: string, schema: string, table: string): Promise<string[]> {
  const rows = await queryDuckDbFile(
    file,
    `SELECT unnest(constraint_column_names) AS c FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' AND schema_name = '${schema}' AND table_name = '${table}'`,
  );
  return rows.map((r) => String(r.c));
}

/**
 * A ClickHouse table's ORDER BY columns, from `system.tables.sorting_key` as ClickHouse prints it
 * (`(code)` for one column written in parentheses, `code, id` or `(code, id)` for more).
 */
export async function clickhouseSortingKey(ch: ClickhouseServer, database: string, table: string): Promise<string[]> {
  const [r] = await ch.rows<{ sorting_key: string }>(`SELECT sorting_key FROM system.tables WHERE database = '${database}' AND name = '${table}'`);
  const text = (r?.sorting_key ?? '').trim().replace(/^\((.*)\)$/, '$1');
  return text === '' ? [] : text.split(/,\s*/).map((c) => c.replace(/^`(.*)`$/, '$1'));
}

/** A ClickHouse table's column types by name. */
export async function clickhouseTypes(ch: ClickhouseServer, database: string, table: string): Promise<Record<string, string>> {
  const rows = await ch.rows<{ name: string; type: string }>(
    `SELECT name, type FROM system.columns WHERE database = '${database}' AND table = '${table}' ORDER BY position`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.type]));
}

/** A stand-in table's column types by name (DuckDB's names for what Snowflake would hold). */
export async function standInTypes(sf: SnowflakeStandIn, schema: string, table: string): Promise<Record<string, string>> {
  const rows = await sf.query(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = '${table}' ORDER BY ordinal_position`,
  );
  return Object.fromEntries(rows.map((r) => [String(r.column_name), String(r.data_type)]));
}

/**
 * One table on every side, `cols` as text, ordered by `order`: the source, a DuckDB file, ClickHouse
 * (`FINAL`) and the Snowflake stand-in. `exprs` overrides a column's expression per side (e.g. a
 * decimal compared as an integer of its smallest unit, since each side prints decimals its own way).
 */
export interface Sides {
  source: TestDatabase;
  duck?: { file: string; schema: string };
  /** `final: false` for MergeTree tables (`apply_mode=mutations`), which take no `FINAL`. */
  ch?: { server: ClickhouseServer; database: string; final?: boolean };
  sf?: { standIn: SnowflakeStandIn; schema: string };
}

type Side = 'pg' | 'duck' | 'ch' | 'sf';

export async function readSides(
  s: Sides,
  table: string,
  cols: string[],
  order: string[],
  exprs: Partial<Record<string, Record<Side, string>>> = {},
): Promise<Record<Side, Row[] | undefined>> {
  const pick = (side: Side, c: string, fallback: string) => `${exprs[c]?.[side] ?? fallback} AS ${side === 'sf' ? `"${c}"` : c}`;
  const src = norm(await s.source.query(`SELECT ${cols.map((c) => pick('pg', c, `${c}::text`)).join(', ')} FROM public.${table} ORDER BY ${order.join(', ')}`));
  const duck = s.duck
    ? norm(
        await queryDuckDbFile(
          s.duck.file,
          `SELECT ${cols.map((c) => pick('duck', c, `${c}::VARCHAR`)).join(', ')} FROM ${s.duck.schema}.${table} ORDER BY ${order.join(', ')}`,
        ),
      )
    : undefined;
  const ch = s.ch
    ? norm(
        await s.ch.server.rows(
          `SELECT ${cols.map((c) => pick('ch', c, `toString(${c})`)).join(', ')} FROM ${s.ch.database}.${table}${s.ch.final === false ? '' : ' FINAL'} ORDER BY ${order.join(', ')}`,
        ),
      )
    : undefined;
  const sf = s.sf
    ? norm(
        await s.sf.standIn.query(
          `SELECT ${cols.map((c) => pick('sf', c, `CAST("${c}" AS VARCHAR)`)).join(', ')} FROM "${s.sf.schema}"."${table}" ORDER BY ${order.map((o) => `"${o}"`).join(', ')}`,
        ),
      )
    : undefined;
  // Sorted here, the same way for every side: SQL orders differ (collations; ClickHouse orders by
  // the text alias of a column of the same name).
  const sorted = (rows: Row[] | undefined) => rows && [...rows].sort((a, b) => compareRows(a, b, order));
  return { pg: sorted(src), duck: sorted(duck), ch: sorted(ch), sf: sorted(sf) };
}

function compareRows(a: Row, b: Row, order: string[]): number {
  for (const c of order) {
    const [x, y] = [a[c] ?? '', b[c] ?? ''];
    const numeric = /^-?\d+(\.\d+)?$/.test(x) && /^-?\d+(\.\d+)?$/.test(y);
    const d = numeric ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (d !== 0) return d;
  }
  return 0;
}

/** Expects every side given in `s` to hold exactly the source's rows (and the source to have some). */
export async function expectSidesEqual(
  s: Sides,
  table: string,
  cols: string[],
  order: string[],
  exprs?: Partial<Record<string, Record<Side, string>>>,
): Promise<Row[]> {
  const r = await readSides(s, table, cols, order, exprs);
  expect(r.pg!.length).toBeGreaterThan(0);
  if (r.duck) expect(r.duck).toEqual(r.pg);
  if (r.ch) expect(r.ch).toEqual(r.pg);
  if (r.sf) expect(r.sf).toEqual(r.pg);
  return r.pg!;
}
