import type { Change, TableSchema } from '../../src/core/change';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { openSource, prepared, pullChanges, uniqueName } from './source-postgres-helpers';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('source_postgres_types');
  await db.query(`CREATE EXTENSION citext; CREATE EXTENSION hstore`);
  await db.query(`CREATE TYPE mood AS ENUM ('happy', 'so sad')`);
  await db.query(`CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)`);
  await db.query(`CREATE DOMAIN big_money AS numeric(40, 10)`);
});

afterAll(async () => {
  await db.drop();
});

async function streamOne(table: string, insertSql: string, options: Record<string, string> = {}): Promise<{ change: Change; schema: TableSchema }> {
  const { config } = await prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), publication_tables: table, batch_timeout: '200ms', ...options });
  const { source, it } = openSource(config);
  try {
    await db.query(insertSql);
    const { changes, batches } = await pullChanges(it, 1);
    return { change: changes[0]!, schema: batches.find((b) => b.changes.length > 0)!.schemas.get(`public.${table}`)! };
  } finally {
    await source.close();
  }
}

describe('PostgresSource value types', () => {
  test('every common type arrives in its documented JS form without precision loss', async () => {
    await db.query(`CREATE TABLE all_types (
      id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, f8nan float8, f8inf float8,
      num numeric, num_s numeric(12,3), money_col money, t text, vc varchar(10), ch char(3), nm name, u uuid,
      j json, jb jsonb, by bytea, d date, d_bc date, d_far date, d_inf date,
      ts timestamp, ts_old timestamp, ts_bc timestamp, ts_inf timestamp, tstz timestamptz, tstz_2040 timestamptz, tstz_ninf timestamptz,
      tm time, tmtz timetz, iv interval, ip inet, cidr_col cidr, mac macaddr, bits bit(4), vbits varbit,
      pt point, rng int4range, x xml, o oid,
      ai int4[], at text[], a2 int8[][], ab bytea[], ats timestamptz[], anum numeric[], ajb jsonb[], abox box[],
      n_null text
    )`);
    const { change, schema } = await streamOne(
      'all_types',
      `INSERT INTO all_types VALUES (
      -9223372036854775808, true, -32768, 2147483647, 9223372036854775807, 1.5, 0.1, 'NaN', '-Infinity',
      '123456789012345678901234567890.123456789012345678901234567890', 12.5, 12.34, 'héllo ✓ 𝄞 "q" \\ back', 'varchar', 'ab', 'nm',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      '{"b": 1, "a": [1, 2.50]}', '{"b": 1, "a": [1, 2.50]}', '\\x00ff000a41'::bytea,
      '1969-12-31', '0044-03-15 BC', '12000-02-29', 'infinity',
      '2024-02-29 23:59:59.999999', '1900-01-01 00:00:00.5', '0100-01-01 12:00:00 BC', '-infinity',
      '2024-01-02 03:04:05.123456+02', '2040-06-01 00:00:00+00', '-infinity',
      '13:14:15.5', '13:14:15+05:30', '1 year 2 mons 3 days 04:05:06.789', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', B'1010', B'101',
      '(1.5,2)', '[1,10)', '<a>x</a>', 4294967295,
      '{1,NULL,3}', '{"a b",NULL,"NULL","q\\"x",""}', '{{1,2},{3,NULL}}', ARRAY['\\x0001'::bytea, NULL],
      ARRAY['2024-01-02 03:04:05+00'::timestamptz, NULL], '{1.50,NaN}', ARRAY['{"k": "v"}'::jsonb], ARRAY['(1,1),(0,0)'::box, '(3,3),(2,2)'::box],
      NULL
    )`,
    );
    const a = change.after!;
    expect(a.id).toBe(-9223372036854775808n);
    expect(a.b).toBe(true);
    expect(a.i2).toBe(-32768);
    expect(a.i4).toBe(2147483647);
    expect(a.i8).toBe(9223372036854775807n);
    expect(a.f4).toBe(1.5);
    expect(a.f8).toBe(0.1);
    expect(a.f8nan).toBeNaN();
    expect(a.f8inf).toBe(-Infinity);
    expect(a.num).toBe('123456789012345678901234567890.123456789012345678901234567890');
    expect(a.num_s).toBe('12.500');
    expect(a.money_col).toBe('$12.34');
    expect(a.t).toBe('héllo ✓ 𝄞 "q" \\ back');
    expect(a.vc).toBe('varchar');
    expect(a.ch).toBe('ab ');
    expect(a.nm).toBe('nm');
    expect(a.u).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(a.j).toBe('{"b": 1, "a": [1, 2.50]}');
    expect(a.jb).toBe('{"a": [1, 2.50], "b": 1}');
    expect(Buffer.isBuffer(a.by)).toBe(true);
    expect([...(a.by as Buffer)]).toEqual([0, 255, 0, 10, 0x41]);
    expect(a.d).toBe('1969-12-31');
    expect(a.d_bc).toBe('-000043-03-15');
    expect(a.d_far).toBe('+012000-02-29');
    expect(a.d_inf).toBe('infinity');
    expect(a.ts).toBe('2024-02-29T23:59:59.999999');
    expect(a.ts_old).toBe('1900-01-01T00:00:00.5');
    expect(a.ts_bc).toBe('-000099-01-01T12:00:00');
    expect(a.ts_inf).toBe('-infinity');
    expect(a.tstz).toBe('2024-01-02T01:04:05.123456Z');
    expect(a.tstz_2040).toBe('2040-06-01T00:00:00Z');
    expect(a.tstz_ninf).toBe('-infinity');
    expect(a.tm).toBe('13:14:15.5');
    expect(a.tmtz).toBe('13:14:15+05:30');
    expect(a.iv).toBe('1 year 2 mons 3 days 04:05:06.789');
    expect(a.ip).toBe('192.168.0.1/24');
    expect(a.cidr_col).toBe('10.0.0.0/8');
    expect(a.mac).toBe('08:00:2b:01:02:03');
    expect(a.bits).toBe('1010');
    expect(a.vbits).toBe('101');
    expect(a.pt).toBe('(1.5,2)');
    expect(a.rng).toBe('[1,10)');
    expect(a.x).toBe('<a>x</a>');
    expect(a.o).toBe(4294967295);
    expect(a.ai).toEqual([1, null, 3]);
    expect(a.at).toEqual(['a b', null, 'NULL', 'q"x', '']);
    expect(a.a2).toEqual([
      [1n, 2n],
      [3n, null],
    ]);
    const ab = a.ab as Array<Buffer | null>;
    expect([...ab[0]!]).toEqual([0, 1]);
    expect(ab[1]).toBeNull();
    expect(a.ats).toEqual(['2024-01-02T03:04:05Z', null]);
    expect(a.anum).toEqual(['1.50', 'NaN']);
    expect(a.ajb).toEqual(['{"k": "v"}']);
    expect(a.abox).toEqual(['(1,1),(0,0)', '(3,3),(2,2)']);
    expect(a.n_null).toBeNull();
    const col = (n: string) => schema.columns.find((c) => c.name === n)!;
    expect(col('i8')).toMatchObject({ pgType: 'int8', valueKind: 'bigint', typeOid: 20 });
    expect(col('num_s')).toMatchObject({ formattedType: 'numeric(12,3)', valueKind: 'numeric' });
    expect(col('vc')).toMatchObject({ formattedType: 'character varying(10)', pgType: 'varchar', typmod: 14 });
    expect(col('tstz')).toMatchObject({ formattedType: 'timestamp with time zone', valueKind: 'timestamptz' });
    expect(col('a2')).toMatchObject({ pgType: '_int8', formattedType: 'bigint[]', valueKind: 'array', elementKind: 'bigint' });
    expect(col('by').valueKind).toBe('bytes');
    expect(col('jb').valueKind).toBe('json');
    expect(col('d').valueKind).toBe('date');
    expect(col('iv').valueKind).toBe('interval');
    expect(col('id').nullable).toBe(false);
    expect(col('t').nullable).toBe(true);
  });

  test('resolve_types=true: enums, domains, extension types and their arrays', async () => {
    await db.query(`CREATE TABLE ext_types (id int PRIMARY KEY, m mood, ms mood[], p posint, ps posint[], bm big_money, c citext, cs citext[], h hstore)`);
    const { change, schema } = await streamOne(
      'ext_types',
      `INSERT INTO ext_types VALUES (1, 'so sad', '{happy,"so sad",NULL}', 7, '{1,2}', 1234567890123456789012345.5, 'MiXeD', '{A,"b c"}', 'a=>1, "b c"=>NULL')`,
    );
    expect(change.after).toEqual({
      id: 1,
      m: 'so sad',
      ms: ['happy', 'so sad', null],
      p: 7,
      ps: [1, 2],
      bm: '1234567890123456789012345.5000000000',
      c: 'MiXeD',
      cs: ['A', 'b c'],
      h: '"a"=>"1", "b c"=>NULL',
    });
    const col = (n: string) => schema.columns.find((c) => c.name === n)!;
    expect(col('m')).toMatchObject({ pgType: 'public.mood', valueKind: 'text' });
    expect(col('p')).toMatchObject({ pgType: 'public.posint', valueKind: 'int' });
    expect(col('ps')).toMatchObject({ valueKind: 'array', elementKind: 'int' });
    expect(col('bm')).toMatchObject({ valueKind: 'numeric', formattedType: 'big_money' });
    expect(col('c')).toMatchObject({ pgType: 'public.citext', valueKind: 'text' });
    expect(col('cs')).toMatchObject({ pgType: 'public._citext', valueKind: 'array', elementKind: 'text' });
  });

  test('resolve_types=false: non-built-in types stay text', async () => {
    await db.query(`CREATE TABLE ext_types_raw (id int PRIMARY KEY, ms mood[], p posint, cs citext[])`);
    const { change, schema } = await streamOne('ext_types_raw', `INSERT INTO ext_types_raw VALUES (1, '{happy}', 7, '{A,"b c"}')`, { resolve_types: 'false' });
    expect(change.after).toEqual({ id: 1, ms: '{happy}', p: '7', cs: '{A,"b c"}' });
    expect(schema.columns.find((c) => c.name === 'p')).toMatchObject({ pgType: 'public.posint', valueKind: 'text' });
  });
});
