import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Change, TableSchema } from '../../src/core/change';
import { WIRE_FORMATS } from '../../src/wire/codec';
import { envelopeOf } from '../../src/wire/envelope';
import { getCodec } from '../../src/wire/registry';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { openSource, prepared, pullChanges, uniqueName } from './source-postgres-helpers';

/**
 * Real PostgreSQL values through the real source, then through every codec: what PostgreSQL prints
 * (numeric scale digits, time fractions, BC dates, infinities) must survive each format exactly, and
 * DuckDB must read the Parquet values PostgreSQL has.
 */

let db: TestDatabase;
let changes: Change[];
let schema: TableSchema;

const COLUMNS = `id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n30 numeric(30,10), n numeric,
  t text, vc varchar(20), by bytea, j json, jb jsonb, u uuid, d date, ts timestamp, tstz timestamptz, tm time, tmtz timetz,
  iv interval, m mood, ta text[], ia int4[], na numeric(10,2)[], ba bytea[], ja jsonb[], i8a int8[], im int4[]`;

const ROW_1 = `1, true, -32768, 2147483647, -9223372036854775808, 3.14, 1.7976931348623157e308, 12345678901234567890.123456789,
  '123456789012345678901234567890.123456789012345678901234567890', E'h\\u00e9llo "w\\u00f6rld" \\\\ \\n\\ttab 🎉 中文', 'varchar',
  '\\x000100ff00', '{"big": 123456789012345678901234567890, "f": 1.000000000000000000001}', '{"a": 9007199254740993, "x": [1.5e300, null]}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '0044-03-15 BC', '1969-07-20 20:17:40.123456', '2262-04-11 23:47:16.854775+00',
  '23:59:59.999999', '12:34:56.789+05:30', '1 year 2 mons 3 days 04:05:06.789', 'happy', ARRAY['a', NULL, 'c "q"', ''],
  ARRAY[1, NULL, -3], ARRAY[1.5, NULL, -2.25], ARRAY['\\x0000'::bytea, NULL, ''::bytea], ARRAY['{"a": 1}'::jsonb, NULL, '[1, 2]'],
  ARRAY[9223372036854775807, NULL]::int8[], '{{1,2},{3,NULL}}'`;

const ROW_2 = `2, false, 32767, -2147483648, 9223372036854775807, 'NaN', '-0', 'NaN', '-Infinity', '', 'x', '', '[]', '{}',
  '00000000-0000-0000-0000-000000000000', 'infinity', '-infinity', '1901-12-13 20:45:52.000001+00', '24:00:00', '00:00:00+00',
  '-178000000 years', 'sad', '{}', ARRAY[NULL]::int4[], ARRAY['NaN']::numeric(10,2)[], '{}', '{}', ARRAY[-9223372036854775808]::int8[], '{}'`;

beforeAll(async () => {
  db = await createTestDatabase('wire_source');
  await db.query(`CREATE TYPE mood AS ENUM ('happy', 'sad')`);
  await db.query(`CREATE TABLE all_types (${COLUMNS})`);
  const slot = uniqueName('wire');
  const { config } = await prepared(db, { slot, publication: 'pub_wire', publication_tables: 'all_types', batch_timeout: '200ms' });
  const { source, it } = openSource(config);
  try {
    await db.query(`BEGIN; INSERT INTO all_types VALUES (${ROW_1}), (${ROW_2}); INSERT INTO all_types (id) VALUES (3); COMMIT`);
    // An out-of-line TOAST value, then an update that leaves it unchanged.
    await db.query(`INSERT INTO all_types (id, t) SELECT 4, string_agg(md5(g::text), '') FROM generate_series(1, 400) g`);
    await db.query(`UPDATE all_types SET b = true WHERE id = 4`);
    await db.query(`UPDATE all_types SET id = 5, i4 = 7 WHERE id = 3`);
    await db.query(`DELETE FROM all_types WHERE id = 2`);
    await db.query(`TRUNCATE all_types`);
    const pulled = await pullChanges(it, 8);
    changes = pulled.changes;
    schema = pulled.batches[pulled.batches.length - 1]!.schemas.get('public.all_types')!;
  } finally {
    await source.close();
  }
}, 60_000);

afterAll(async () => {
  await db.drop();
});

describe('codecs over changes from the PostgreSQL source', () => {
  test('the source delivered the expected changes', () => {
    expect(changes.map((c) => c.op)).toEqual(['insert', 'insert', 'insert', 'insert', 'update', 'update', 'delete', 'truncate']);
    expect(changes[4]!.unchangedToast).toEqual(['t']);
    expect(changes[1]!.after!.n30).toBe('NaN');
  });

  test.each(WIRE_FORMATS)('%s: every change round-trips exactly, as a file and as messages', (format) => {
    const codec = getCodec(format);
    const expected = changes.map(envelopeOf);
    const typedFormat = format === 'arrow' || format === 'parquet' || format === 'avro';
    // Typed formats carry whole rows: a column the source left out of an image (not TOAST) reads as NULL.
    const normalize = (e: ReturnType<typeof envelopeOf>) => {
      if (!typedFormat) return e;
      const fill = (row: Record<string, unknown> | null, skip: string[]) =>
        row && Object.fromEntries(schema.columns.filter((c) => !skip.includes(c.name)).map((c) => [c.name, row[c.name] ?? null]));
      return { ...e, before: fill(e.before, []), after: fill(e.after, e.unchanged_toast) };
    };
    expect(codec.decodeFile(codec.encodeFile(changes, schema), schema)).toEqual(expected.map(normalize));
    changes.forEach((c, i) => expect(codec.decodeMessage(codec.encodeMessage(c, schema), schema)).toEqual(normalize(expected[i]!)));
  });

  test('DuckDB reads from Parquet the values PostgreSQL has', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wire-source-'));
    const file = path.join(dir, 'row1.parquet');
    writeFileSync(file, getCodec('parquet').encodeFile([changes[0]!], schema));
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    try {
      await db.query(`INSERT INTO all_types VALUES (${ROW_1})`);
      const [pg] = await db.query(`SELECT i8::text i8, n30::text n30, n::text n, f8::text f8, (d - '1970-01-01'::date)::text d,
        (extract(epoch FROM ts) * 1000000)::bigint::text ts, (extract(epoch FROM tstz) * 1000000)::bigint::text tstz, tm::text tm,
        encode(by, 'hex') "by", jb::text jb, na::text[] na FROM all_types WHERE id = 1`);
      const reader = await conn.runAndReadAll(`SELECT after.i8::VARCHAR i8, after.n30::VARCHAR n30, after.n n, after.f8::VARCHAR f8,
        (after.d - DATE '1970-01-01')::VARCHAR d, epoch_us(after.ts)::VARCHAR ts, epoch_us(after.tstz)::VARCHAR tstz,
        after.tm::VARCHAR tm, lower(hex(after.by)) "by", after.jb jb, after.na::VARCHAR[] na FROM read_parquet('${file}')`);
      const [duck] = reader.getRowObjectsJS();
      expect({ ...duck, f8: Number(duck!.f8) }).toEqual({ ...pg, f8: Number(pg!.f8) });
    } finally {
      conn.closeSync();
      instance.closeSync();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
