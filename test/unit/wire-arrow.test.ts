import { DataType, Type, tableFromIPC, type Field, type Vector } from 'apache-arrow';
import { DuctError } from '../../src/core/errors';
import { dateToEpochDays, timestampToEpochMicros } from '../../src/core/time';
import { arrowCodec } from '../../src/wire/arrow';
import { envelopeOf } from '../../src/wire/envelope';
import { column, table } from '../support/changes';
import { ALL_TYPES, ROW_A, ROW_TYPED, makeChange, sampleChanges, typedChanges } from '../support/wire-fixtures';

function structChild(v: Vector, name: string): Vector {
  const child: Vector | null = v.getChild(name as never);
  if (!child) throw new Error(`no child ${name}`);
  return child;
}

function fieldOf(v: Vector, name: string): Field {
  return (v.type as unknown as { children: Field[] }).children.find((f) => f.name === name)!;
}

describe('arrow codec', () => {
  test('every change round-trips exactly, as messages and as one file', () => {
    const changes = sampleChanges();
    for (const c of changes) expect(arrowCodec.decodeMessage(arrowCodec.encodeMessage(c, ALL_TYPES), ALL_TYPES)).toEqual(envelopeOf(c));
    expect(arrowCodec.decodeFile(arrowCodec.encodeFile(changes, ALL_TYPES), ALL_TYPES)).toEqual(changes.map(envelopeOf));
  });

  test('apache-arrow reads typed columns with exact values', () => {
    const t = tableFromIPC(arrowCodec.encodeFile(typedChanges(), ALL_TYPES));
    expect(t.numRows).toBe(4);
    expect(t.schema.fields.map((f) => f.name)).toEqual([
      'op',
      'schema',
      'table',
      'key',
      'key_columns',
      'before',
      'after',
      'lsn',
      'commit_lsn',
      'commit_time',
      'xid',
      'seq',
      'unchanged_toast',
    ]);
    expect(String(t.getChild('commit_time')!.type)).toBe('Timestamp<MICROSECOND, UTC>');
    expect((t.getChild('commit_time')!.data[0]!.values as BigInt64Array)[0]).toBe(1_714_564_800_123_456n);
    expect(t.getChild('op')!.get(0)).toBe('insert');
    expect(t.getChild('lsn')!.get(0)).toBe('0/16B6C50');
    expect(t.getChild('xid')!.get(0)).toBe(4294967295);
    expect([...(t.getChild('key_columns')!.get(0) as Vector)]).toEqual(['id']);

    const after = t.getChild('after')!;
    const types: Record<string, string> = {};
    for (const f of (after.type as unknown as { children: Field[] }).children) types[f.name] = String(f.type);
    expect(types).toEqual({
      id: 'Int64',
      b: 'Bool',
      i2: 'Int16',
      i4: 'Int32',
      i8: 'Int64',
      f4: 'Float64',
      f8: 'Float64',
      n30: 'Decimal[30e+10]',
      n: 'Utf8',
      t: 'Utf8',
      vc: 'Utf8',
      by: 'Binary',
      j: 'Utf8',
      jb: 'Utf8',
      u: 'Utf8',
      d: 'Date32<DAY>',
      ts: 'Timestamp<MICROSECOND>',
      tstz: 'Timestamp<MICROSECOND, UTC>',
      tm: 'Time64<MICROSECOND>',
      tmtz: 'Utf8',
      iv: 'Utf8',
      mood: 'Utf8',
      ta: 'List<Utf8>',
      ia: 'List<Int32>',
      na: 'List<Decimal[10e+2]>',
      ba: 'List<Binary>',
      ja: 'List<Utf8>',
      i8a: 'List<Int64>',
      im: 'List<Int32>',
    });
    expect(fieldOf(after, 'n30').metadata.get('pg_type')).toBe('numeric(30,10)');

    const get = (name: string) => structChild(after, name).get(0);
    expect(get('id')).toBe(1n);
    expect(get('b')).toBe(true);
    expect(get('i2')).toBe(-32768);
    expect(get('i4')).toBe(2147483647);
    expect(get('i8')).toBe(-9223372036854775808n);
    expect(get('f4')).toBe(3.14);
    expect(get('f8')).toBe(1.7976931348623157e308);
    // Decimal128: apache-arrow gives the unscaled integer; the scale is in the type.
    expect(String(get('n30'))).toBe('123456789012345678901234567890');
    expect((structChild(after, 'n30').type as unknown as { scale: number }).scale).toBe(10);
    expect(get('n')).toBe(ROW_A.n);
    expect(get('t')).toBe(ROW_A.t);
    expect(Buffer.from(get('by') as Uint8Array)).toEqual(Buffer.from([0, 1, 0, 255, 0]));
    expect(get('j')).toBe(ROW_A.j);
    expect(get('jb')).toBe(ROW_A.jb);
    expect(get('u')).toBe(ROW_A.u);
    const raw = (name: string) => structChild(after, name).data[0]!.values as Int32Array | BigInt64Array;
    expect(raw('d')[0]).toBe(dateToEpochDays('-000043-03-15'));
    expect(raw('ts')[0]).toBe(timestampToEpochMicros('1969-07-20T20:17:40.123456'));
    expect(raw('tstz')[0]).toBe(timestampToEpochMicros('2262-04-11T23:47:16.854775Z'));
    expect(raw('tm')[0]).toBe(86_399_999_999n);
    expect(get('tmtz')).toBe('12:34:56.789+05:30');
    expect(get('iv')).toBe(ROW_A.iv);
    expect([...(get('ta') as Vector)]).toEqual(['a', null, 'c "q"', '']);
    expect([...(get('ia') as Vector)]).toEqual([1, null, -3]);
    expect([...(get('na') as Vector)].map((x) => (x === null ? null : String(x)))).toEqual(['150', null, '-225']);
    expect([...(get('ba') as Vector)].map((x) => (x === null ? null : Buffer.from(x as Uint8Array)))).toEqual([Buffer.from([0, 0]), null, Buffer.alloc(0)]);
    expect([...(get('i8a') as Vector)]).toEqual([9223372036854775807n, null]);
    expect([...(get('im') as Vector)]).toEqual(ROW_TYPED.im);

    // Row 1 is all NULLs; row 3 (a delete) has no after image at all.
    expect(structChild(after, 'b').get(1)).toBeNull();
    expect(structChild(after, 'ta').get(1)).toBeNull();
    expect(after.isValid(3)).toBe(false);
    expect(t.getChild('before')!.isValid(0)).toBe(false);
    expect(t.getChild('before')!.isValid(2)).toBe(true);
  });

  test('values a type cannot hold switch that column to its documented text fallback', () => {
    const t = tableFromIPC(arrowCodec.encodeFile(sampleChanges(), ALL_TYPES));
    const after = t.getChild('after')!;
    const fallback = (name: string) => fieldOf(after, name).metadata.get('ductstream.fallback');
    expect(String(structChild(after, 'n30').type)).toBe('Utf8');
    expect(fallback('n30')).toBe('text');
    expect(structChild(after, 'n30').get(0)).toBe('12345678901234567890.1234567890');
    expect(structChild(after, 'n30').get(1)).toBe('NaN');
    expect(structChild(after, 'd').get(1)).toBe('infinity');
    expect(structChild(after, 'ts').get(1)).toBe('-infinity');
    expect(fallback('im')).toBe('json');
    expect(structChild(after, 'im').get(0)).toBe('[[1,2],[3,null]]');
    expect(fallback('na')).toBe('json');
    expect(structChild(after, 'na').get(1)).toBe('["NaN"]');
    // Columns without such values keep their type in the same file.
    expect(fallback('tstz')).toBeUndefined();
    expect(structChild(after, 'tstz').type.typeId).toBe(Type.Timestamp);
    expect((structChild(after, 'ia').type as DataType).typeId).toBe(Type.List);
  });

  test('the key struct holds the primary key, or every column when keys are not primary keys', () => {
    const keyFields = (bytes: Uint8Array) => (tableFromIPC(bytes).getChild('key')!.type as unknown as { children: Field[] }).children.map((f) => f.name);
    expect(keyFields(arrowCodec.encodeFile(typedChanges(), ALL_TYPES))).toEqual(['id']);
    const full = table('public.no_pk', [column('a', 'int4'), column('b', 'text')], { replicaIdentity: 'full' });
    const changes = [
      makeChange({ table: { schema: 'public', name: 'no_pk' }, after: { a: 1, b: 'x' }, key: {} }),
      makeChange({ table: { schema: 'public', name: 'no_pk' }, op: 'delete', before: { a: 1, b: null }, key: { a: 1, b: null } }),
    ];
    const bytes = arrowCodec.encodeFile(changes, full);
    expect(keyFields(bytes)).toEqual(['a', 'b']);
    expect(arrowCodec.decodeFile(bytes, full)).toEqual(changes.map(envelopeOf));
    expect(arrowCodec.decodeFile(bytes, full)[1]!.key).toEqual({ a: 1, b: null });
  });

  test('output is deterministic', () => {
    const a = Buffer.from(arrowCodec.encodeFile(sampleChanges(), ALL_TYPES));
    expect(a.equals(Buffer.from(arrowCodec.encodeFile(sampleChanges(), ALL_TYPES)))).toBe(true);
  });

  test('bad input: unknown column, wrong value type, garbage bytes', () => {
    expect(() => arrowCodec.encodeMessage(makeChange({ after: { id: 1n, nope: 1 } }), ALL_TYPES)).toThrow(DuctError);
    expect(() => arrowCodec.encodeMessage(makeChange({ after: { id: 1n, i8: 'x' as unknown as bigint } }), ALL_TYPES)).toThrow(/"i8"/);
    expect(() => arrowCodec.encodeMessage(makeChange({ after: { id: 1n, by: 'not a buffer' } }), ALL_TYPES)).toThrow(/"by"/);
    const e = (() => {
      try {
        arrowCodec.decodeFile(Buffer.from('not arrow at all'), ALL_TYPES);
      } catch (err) {
        return err as DuctError;
      }
      throw new Error('expected a failure');
    })();
    expect(e).toBeInstanceOf(DuctError);
    expect(e.code).toBe('invalid_argument');
  });
});
