import { Readable } from 'node:stream';
import * as avro from 'avsc';
import { DuctError } from '../../src/core/errors';
import { dateToEpochDays, timestampToEpochMicros } from '../../src/core/time';
import { avroCodec } from '../../src/wire/avro';
import { avroSchemaOf, avroType } from '../../src/wire/avroSchema';
import { envelopeOf } from '../../src/wire/envelope';
import { twosComplementToBigint } from '../../src/wire/values';
import { column, table } from '../support/changes';
import { ALL_TYPES, ROW_A, makeChange, sampleChanges, typedChanges } from '../support/wire-fixtures';

type Rec = Record<string, unknown>;

/** Reads a container file with avsc's own streaming decoder (longs as bigint, as avsc documents). */
async function readWithAvsc(bytes: Uint8Array): Promise<{ schema: Rec; records: Rec[] }> {
  const decoder = new avro.streams.BlockDecoder({ parseHook: (s: avro.Schema) => avroType(s) });
  let schema: Rec = {};
  decoder.on('metadata', (type: avro.Type) => {
    schema = type.schema() as Rec;
  });
  const records: Rec[] = [];
  await new Promise<void>((resolve, reject) => {
    Readable.from([Buffer.from(bytes)])
      .pipe(decoder)
      .on('data', (r: Rec) => records.push(r))
      .on('end', resolve)
      .on('error', reject);
  });
  return { schema, records };
}

describe('avro codec', () => {
  test('every change round-trips exactly, as single records and as one container file', () => {
    const changes = sampleChanges();
    for (const c of changes) expect(avroCodec.decodeMessage(avroCodec.encodeMessage(c, ALL_TYPES), ALL_TYPES)).toEqual(envelopeOf(c));
    expect(avroCodec.decodeFile(avroCodec.encodeFile(changes, ALL_TYPES), ALL_TYPES)).toEqual(changes.map(envelopeOf));
  });

  test("avsc's container decoder reads the file: logical types and exact values", async () => {
    const { schema, records } = await readWithAvsc(avroCodec.encodeFile(typedChanges(), ALL_TYPES));
    expect(schema).toMatchObject({ name: 'ductstream.public.all_types.ChangeEvent' });
    expect(records).toHaveLength(4);
    const r = records[0]!;
    expect(r).toMatchObject({
      op: 'insert',
      schema: 'public',
      table: 'all_types',
      key_columns: ['id'],
      before: null,
      lsn: '0/16B6C50',
      commit_lsn: '1/16B6D00',
      commit_time: 1_714_564_800_123_456n,
      xid: 4294967295n,
      seq: 0n,
      unchanged_toast: [],
    });
    const a = r.after as Rec;
    expect(a.id).toBe(1n);
    expect(a.b).toBe(true);
    expect(a.i2).toBe(-32768);
    expect(a.i8).toBe(-9223372036854775808n);
    expect(a.f4).toBe(3.14);
    expect(twosComplementToBigint(a.n30 as Buffer)).toBe(123456789012345678901234567890n);
    expect(a.n).toBe(ROW_A.n);
    expect(a.t).toBe(ROW_A.t);
    expect(a.by).toEqual(Buffer.from([0, 1, 0, 255, 0]));
    expect(a.j).toBe(ROW_A.j);
    expect(a.u).toBe(ROW_A.u);
    expect(a.d).toBe(dateToEpochDays('-000043-03-15'));
    expect(a.ts).toBe(timestampToEpochMicros('1969-07-20T20:17:40.123456'));
    expect(a.tstz).toBe(timestampToEpochMicros('2262-04-11T23:47:16.854775Z'));
    expect(a.tm).toBe(86_399_999_999n);
    expect(a.tmtz).toBe('12:34:56.789+05:30');
    expect(a.ta).toEqual(['a', null, 'c "q"', '']);
    expect(a.ia).toEqual([1, null, -3]);
    expect((a.na as (Buffer | null)[]).map((x) => (x ? twosComplementToBigint(x) : null))).toEqual([150n, null, -225n]);
    expect(a.i8a).toEqual([9223372036854775807n, null]);
    expect((records[1]!.after as Rec).ta).toBeNull();
    expect(records[3]!.after).toBeNull();
  });

  test('the schema uses Avro logical types and nullable unions, with string fallbacks', () => {
    const rowFields = ((avroSchemaOf(ALL_TYPES).fields as Rec[]).find((f) => f.name === 'key')!.type as Rec).fields as Rec[];
    const typeOf = (n: string) => rowFields.find((f) => f.name === n)!.type;
    expect(typeOf('i8')).toEqual(['null', 'long']);
    expect(typeOf('n30')).toEqual(['null', { type: 'bytes', logicalType: 'decimal', precision: 30, scale: 10 }, 'string']);
    expect(typeOf('n')).toEqual(['null', 'string']);
    expect(typeOf('d')).toEqual(['null', { type: 'int', logicalType: 'date' }, 'string']);
    expect(typeOf('ts')).toEqual(['null', { type: 'long', logicalType: 'local-timestamp-micros' }, 'string']);
    expect(typeOf('tstz')).toEqual(['null', { type: 'long', logicalType: 'timestamp-micros' }, 'string']);
    expect(typeOf('u')).toEqual(['null', { type: 'string', logicalType: 'uuid' }]);
    expect(typeOf('ia')).toEqual(['null', { type: 'array', items: ['null', 'int'] }, 'string']);
    expect(rowFields.find((f) => f.name === 'n30')!.default).toBeNull();
    // The schema is a valid Avro schema for a plain avsc parse too.
    expect(() => avro.Type.forSchema(avroSchemaOf(ALL_TYPES) as avro.Schema)).not.toThrow();
  });

  test('values without an exact typed form use the string branch', async () => {
    const { records } = await readWithAvsc(avroCodec.encodeFile(sampleChanges(), ALL_TYPES));
    const b = records[1]!.after as Rec;
    expect(b.n30).toBe('NaN');
    expect(b.d).toBe('infinity');
    expect(b.ts).toBe('-infinity');
    expect(b.tm).toBe(86_400_000_000n);
    expect(b.f4).toBeNaN();
    expect(Object.is(b.f8, -0)).toBe(true);
    expect(b.na).toEqual(['NaN']);
    expect((records[0]!.after as Rec).im).toBe('[[1,2],[3,null]]');
  });

  test('column names that are not Avro names are rewritten and keep the original', () => {
    const odd = table(
      'public.odd names',
      [column('id', 'int8'), column('my col', 'text'), column('1st', 'int4'), column('my_col', 'text'), column('my-col', 'text')],
      { primaryKey: ['id'] },
    );
    const s = avroSchemaOf(odd);
    expect(s.namespace).toBe('ductstream.public.odd_names');
    const fields = ((s.fields as Rec[])[3]!.type as Rec).fields as Rec[];
    expect(fields.map((f) => [f.name, f.pg_name])).toEqual([
      ['id', undefined],
      ['my_col_2', 'my col'],
      ['_1st', '1st'],
      ['my_col', undefined],
      ['my_col_3', 'my-col'],
    ]);
    const c = makeChange({ table: { schema: 'public', name: 'odd names' }, after: { id: 1n, 'my col': 'a', '1st': 2, my_col: 'b', 'my-col': 'c' } });
    expect(avroCodec.decodeFile(avroCodec.encodeFile([c], odd), odd)).toEqual([envelopeOf(c)]);
  });

  test('output is deterministic (the sync marker comes from the schema)', () => {
    const a = Buffer.from(avroCodec.encodeFile(sampleChanges(), ALL_TYPES));
    expect(a.equals(Buffer.from(avroCodec.encodeFile(sampleChanges(), ALL_TYPES)))).toBe(true);
  });

  test('bad input is refused', () => {
    expect(() => avroCodec.encodeMessage(makeChange({ after: { id: 1n, ghost: 1 } }), ALL_TYPES)).toThrow(DuctError);
    expect(() => avroCodec.decodeFile(Buffer.from('Obj\x01garbage'), ALL_TYPES)).toThrow(DuctError);
    expect(() => avroCodec.decodeFile(Buffer.from('nope'), ALL_TYPES)).toThrow(/not an Avro object container/);
    expect(() => avroCodec.decodeMessage(Buffer.from([0xff]), ALL_TYPES)).toThrow(DuctError);
  });
});
