/**
 * Snowflake's limits on `ALTER TABLE … ALTER COLUMN … SET DATA TYPE`, which DuckDB does not have
 * (it converts nearly anything): Snowflake only lengthens a VARCHAR or raises a NUMBER's precision
 * with the same scale (docs.snowflake.com, ALTER TABLE … ALTER COLUMN). The stand-in refuses the
 * rest with Snowflake's error, so a destination relying on more fails here as it would there.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorAnswer } from './answers';

const IDENT = String.raw`"((?:[^"]|"")+)"`;
const SET_TYPE = new RegExp(String.raw`^ALTER\s+TABLE\s+${IDENT}\.${IDENT}\s+ALTER\s+COLUMN\s+${IDENT}\s+SET\s+DATA\s+TYPE\s+(.+?)\s*$`, 'i');

/** DuckDB's type name of a stand-in column in Snowflake's spelling (the types the destinations create). */
function snowflakeSpelling(duck: string): string {
  const d = /^DECIMAL\((\d+),\s*(\d+)\)$/i.exec(duck);
  if (d) return `NUMBER(${d[1]},${d[2]})`;
  return duck.toUpperCase();
}

function allowed(from: string, to: string): boolean {
  const norm = (t: string) => t.replace(/\s+/g, '').toUpperCase();
  const [a, b] = [norm(from), norm(to)];
  if (a === b) return true;
  if (/^VARCHAR(\(\d+\))?$/.test(a) && /^VARCHAR(\(\d+\))?$/.test(b)) return true;
  const na = /^NUMBER\((\d+),(\d+)\)$/.exec(a);
  const nb = /^NUMBER\((\d+),(\d+)\)$/.exec(b);
  return na !== null && nb !== null && na[2] === nb[2] && Number(nb[1]) >= Number(na[1]);
}

/** Snowflake's error answer for a SET DATA TYPE Snowflake refuses; undefined for anything else. */
export async function refusedRetype(conn: DuckDBConnection, sql: string): Promise<unknown> {
  const m = SET_TYPE.exec(sql);
  if (!m) return undefined;
  const unq = (s: string) => s.replace(/""/g, '"');
  const [schema, table, column] = [unq(m[1]!), unq(m[2]!), unq(m[3]!)];
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const r = await conn.runAndReadAll(
    `SELECT data_type FROM information_schema.columns WHERE table_schema = ${q(schema)} AND table_name = ${q(table)} AND column_name = ${q(column)}`,
  );
  const row = r.getRowObjects()[0];
  if (!row) return undefined;
  const from = snowflakeSpelling(String(row.data_type));
  if (allowed(from, m[4]!)) return undefined;
  return errorAnswer('002108', `SQL compilation error: cannot change column ${column.toUpperCase()} from type ${from} to ${m[4]!.toUpperCase()}`);
}
