import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { dateToEpochDays, timestampToEpochMicros } from '../../src/core/time';
import { envelopeOf } from '../../src/wire/envelope';
import { createParquetCodec } from '../../src/wire/parquet';
import { PARQUET_COMPRESSIONS, getCodec } from '../../src/wire/registry';
import { ALL_TYPES, ROW_A, sampleChanges, typedChanges } from '../support/wire-fixtures';

let dir: string;
let instance: DuckDBInstance;
let duck: DuckDBConnection;
let fileNo = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'wire-parquet-'));
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
});

afterAll(() => {
  duck.closeSync();
  instance.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

function writeTemp(bytes: Uint8Array): string {
  const p = path.join(dir, `f${fileNo++}.parquet`);
  writeFileSync(p, bytes);
  return p;
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJS();
}

describe('parquet codec', () => {
  const codec = getCodec('parquet');

  test('every change round-trips exactly through parquet-wasm, as messages and as one file', () => {
    const changes = sampleChanges();
    for (const c of changes) expect(codec.decodeMessage(codec.encodeMessage(c, ALL_TYPES), ALL_TYPES)).toEqual(envelopeOf(c));
    expect(codec.decodeFile(codec.encodeFile(changes, ALL_TYPES), ALL_TYPES)).toEqual(changes.map(envelopeOf));
  });

  test('every compression writes a file both parquet-wasm and DuckDB read', async () => {
    const changes = sampleChanges();
    const sizes: Record<string, number> = {};
    for (const compression of PARQUET_COMPRESSIONS) {
      const c = createParquetCodec({ compression });
      const bytes = c.encodeFile(changes, ALL_TYPES);
      sizes[compression] = bytes.length;
      expect(c.decodeFile(bytes, ALL_TYPES)).toEqual(changes.map(envelopeOf));
      const rows = await query(`SELECT count(*)::INTEGER AS n, max(after.i8)::VARCHAR AS top FROM read_parquet('${writeTemp(bytes)}')`);
      expect(rows).toEqual([{ n: changes.length, top: '9223372036854775807' }]);
    }
    expect(new Set(Object.values(sizes)).size).toBeGreaterThan(1);
  });

  test('DuckDB read_parquet sees native types and exact values', async () => {
    const file = writeTemp(codec.encodeFile(typedChanges(), ALL_TYPES));
    const [types] = await query(`SELECT typeof(after.id) id, typeof(after.b) b, typeof(after.i2) i2, typeof(after.i8) i8, typeof(after.f4) f4,
      typeof(after.n30) n30, typeof(after.n) n, typeof(after.by) "by", typeof(after.d) d, typeof(after.ts) ts, typeof(after.tstz) tstz,
      typeof(after.tm) tm, typeof(after.ta) ta, typeof(after.ia) ia, typeof(after.na) na, typeof(commit_time) ct, typeof(xid) xid
      FROM read_parquet('${file}') LIMIT 1`);
    expect(types).toEqual({
      id: 'BIGINT',
      b: 'BOOLEAN',
      i2: 'SMALLINT',
      i8: 'BIGINT',
      f4: 'DOUBLE',
      n30: 'DECIMAL(30,10)',
      n: 'VARCHAR',
      by: 'BLOB',
      d: 'DATE',
      ts: 'TIMESTAMP',
      tstz: 'TIMESTAMP WITH TIME ZONE',
      tm: 'TIME',
      ta: 'VARCHAR[]',
      ia: 'INTEGER[]',
      na: 'DECIMAL(10,2)[]',
      ct: 'TIMESTAMP WITH TIME ZONE',
      xid: 'UINTEGER',
    });
    const rows = await query(`SELECT op, lsn, commit_lsn, epoch_us(commit_time)::VARCHAR ct, xid, seq::INTEGER seq, key_columns,
      after.id::VARCHAR id, after.b b, after.i2 i2, after.i4 i4, after.i8::VARCHAR i8, after.f4 f4, after.f8 f8,
      after.n30::VARCHAR n30, after.n n, after.t t, after.vc vc, hex(after.by) "by", after.j j, after.jb jb, after.u u,
      (after.d - DATE '1970-01-01')::INTEGER d, epoch_us(after.ts)::VARCHAR ts, epoch_us(after.tstz)::VARCHAR tstz,
      after.tm::VARCHAR tm, after.tmtz tmtz, after.iv iv, after.mood mood, after.ta ta, after.ia ia, after.na::VARCHAR[] na,
      after.i8a::VARCHAR[] i8a, after.im im, after IS NULL AS no_after, before IS NULL AS no_before
      FROM read_parquet('${file}') ORDER BY seq`);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toEqual({
      op: 'insert',
      lsn: '0/16B6C50',
      commit_lsn: '1/16B6D00',
      ct: '1714564800123456',
      xid: 4294967295,
      seq: 0,
      key_columns: ['id'],
      id: '1',
      b: true,
      i2: -32768,
      i4: 2147483647,
      i8: '-9223372036854775808',
      f4: 3.14,
      f8: 1.7976931348623157e308,
      n30: '12345678901234567890.1234567890',
      n: ROW_A.n,
      t: ROW_A.t,
      vc: 'varchar',
      by: '000100FF00',
      j: ROW_A.j,
      jb: ROW_A.jb,
      u: ROW_A.u,
      d: dateToEpochDays('-000043-03-15'),
      ts: String(timestampToEpochMicros('1969-07-20T20:17:40.123456')),
      tstz: String(timestampToEpochMicros('2262-04-11T23:47:16.854775Z')),
      tm: '23:59:59.999999',
      tmtz: '12:34:56.789+05:30',
      iv: ROW_A.iv,
      mood: 'happy',
      ta: ['a', null, 'c "q"', ''],
      ia: [1, null, -3],
      na: ['1.50', null, '-2.25'],
      i8a: ['9223372036854775807', null],
      im: [1, null],
      no_after: false,
      no_before: true,
    });
    // All-NULL row, then an update with a before image, then a key-only delete.
    expect(
      Object.entries(rows[1]!).filter(
        ([k, v]) => v !== null && !['op', 'lsn', 'commit_lsn', 'ct', 'xid', 'seq', 'key_columns', 'id', 'no_after', 'no_before'].includes(k),
      ),
    ).toEqual([]);
    expect(rows[2]).toMatchObject({ op: 'update', no_before: false, no_after: false, i8: '-9223372036854775808' });
    expect(rows[3]).toMatchObject({ op: 'delete', no_after: true, no_before: true, key_columns: ['id'] });
    const [key] = await query(`SELECT key.id::VARCHAR id FROM read_parquet('${file}') WHERE op = 'delete'`);
    expect(key).toEqual({ id: '1' });
  });

  test('fallback columns read as text in DuckDB', async () => {
    const file = writeTemp(codec.encodeFile(sampleChanges(), ALL_TYPES));
    const rows = await query(
      `SELECT typeof(after.n30) t, after.n30 n30, after.d d, after.ts ts, after.im im FROM read_parquet('${file}') WHERE op = 'insert' ORDER BY seq`,
    );
    expect(rows.map((r) => r.t)).toEqual(['VARCHAR', 'VARCHAR', 'VARCHAR']);
    expect(rows.map((r) => r.n30)).toEqual(['12345678901234567890.1234567890', 'NaN', null]);
    expect(rows.map((r) => r.d)).toEqual(['-000043-03-15', 'infinity', null]);
    expect(rows[1]!.ts).toBe('-infinity');
    expect(rows[0]!.im).toBe('[[1,2],[3,null]]');
  });

  test('parquet-wasm keeps the Arrow schema (types and fallback metadata)', () => {
    const t = tableFromIPC(readParquet(codec.encodeFile(sampleChanges(), ALL_TYPES)).intoIPCStream());
    const after = t.schema.fields.find((f) => f.name === 'after')!;
    const n30 = (after.type as unknown as { children: { name: string; metadata: Map<string, string> }[] }).children.find((f) => f.name === 'n30')!;
    expect(n30.metadata.get('ductstream.fallback')).toBe('text');
    expect(n30.metadata.get('pg_type')).toBe('numeric(30,10)');
  });

  test('output is deterministic', () => {
    const a = Buffer.from(codec.encodeFile(sampleChanges(), ALL_TYPES));
    expect(a.equals(Buffer.from(codec.encodeFile(sampleChanges(), ALL_TYPES)))).toBe(true);
  });
});
