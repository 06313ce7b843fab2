import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { qualified, type QualifiedName } from '../sql/dialect';
import type { SnowflakeBind, SnowflakeClient } from './client';
import { snowflakeSyntax as sx } from './dialect';
import { csvRecord } from './values';

/** At most this many bound values go in one multi-row INSERT; bigger batches are staged as a file. */
export const MAX_BOUND_VALUES = 8_000;
/** And at most this many bytes of text. */
const MAX_BOUND_BYTES = 512 * 1024;

/** The file format of staged raw files (CSV of text, NULL distinct from the empty string). */
export const RAW_FILE_FORMAT =
  `TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\\n' FIELD_OPTIONALLY_ENCLOSED_BY = '"' ` +
  `EMPTY_FIELD_AS_NULL = TRUE NULL_IF = () ESCAPE_UNENCLOSED_FIELD = NONE ENCODING = 'UTF8'`;

let fileNo = 0;

/**
 * Loads text rows into a raw table (emptied by the caller first): small batches as one bound
 * multi-row INSERT, larger ones as a gzip'ed CSV file PUT to the raw table's own table stage
 * (`@schema.%table`) and `COPY INTO` it (`PURGE = TRUE` removes the staged file once loaded).
 * Runs outside the batch's transaction: the raw table is private to this destination.
 */
export async function loadRaw(client: SnowflakeClient, table: QualifiedName, columns: string[], rows: (string | null)[][]): Promise<'bound' | 'staged'> {
  if (rows.length === 0) return 'bound';
  const values = rows.length * columns.length;
  let bytes = 0;
  if (values <= MAX_BOUND_VALUES) for (const row of rows) for (const v of row) bytes += v === null ? 0 : v.length;
  const list = columns.map((c) => sx.quoteIdent(c)).join(', ');
  if (values <= MAX_BOUND_VALUES && bytes <= MAX_BOUND_BYTES) {
    const tuple = `(${columns.map(() => '?').join(', ')})`;
    const binds: SnowflakeBind[] = [];
    for (const row of rows) for (const v of row) binds.push(v);
    await client.execute(`INSERT INTO ${qualified(sx, table)} (${list}) VALUES ${rows.map(() => tuple).join(', ')}`, binds);
    return 'bound';
  }
  const dir = join(tmpdir(), `ductstream-snowflake-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const name = `${table.name}_${Date.now()}_${fileNo++}.csv.gz`;
  const path = join(dir, name);
  const chunks: string[] = [];
  for (const row of rows) chunks.push(csvRecord(row));
  writeFileSync(path, gzipSync(chunks.join(''), { level: 1 }));
  const stage = `${sx.quoteIdent(table.schema)}.%${sx.quoteIdent(table.name)}`;
  try {
    await client.put(path, stage, '');
    await client.execute(`COPY INTO ${qualified(sx, table)} (${list}) FROM @${stage} FILES = ('${name}') FILE_FORMAT = (${RAW_FILE_FORMAT}) PURGE = TRUE`);
  } finally {
    rmSync(path, { force: true });
  }
  return 'staged';
}
