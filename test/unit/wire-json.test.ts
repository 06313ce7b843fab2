import { DuctError } from '../../src/core/errors';
import { envelopeOf } from '../../src/wire/envelope';
import { jsonCodec } from '../../src/wire/json';
import { ALL_TYPES, ROW_A, ROW_B, makeChange, sampleChanges } from '../support/wire-fixtures';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('json codec', () => {
  test('every change round-trips exactly through a message', () => {
    for (const c of sampleChanges()) {
      const decoded = jsonCodec.decodeMessage(jsonCodec.encodeMessage(c, ALL_TYPES), ALL_TYPES);
      expect(decoded).toEqual(envelopeOf(c));
    }
  });

  test('a file is one JSON object per line and round-trips in order', () => {
    const changes = sampleChanges();
    const bytes = jsonCodec.encodeFile(changes, ALL_TYPES);
    const lines = text(bytes).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(changes.length);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(jsonCodec.decodeFile(bytes, ALL_TYPES)).toEqual(changes.map(envelopeOf));
  });

  test('the standard JSON reader sees lossless value forms', () => {
    const c = makeChange({ after: ROW_A });
    const raw = text(jsonCodec.encodeMessage(c, ALL_TYPES));
    const o = JSON.parse(raw);
    expect(Object.keys(o)).toEqual(['op', 'schema', 'table', 'key', 'before', 'after', 'lsn', 'commit_lsn', 'commit_time', 'xid', 'seq', 'unchanged_toast']);
    expect(o).toMatchObject({
      op: 'insert',
      schema: 'public',
      table: 'all_types',
      key: { id: '1' },
      before: null,
      lsn: '0/16B6C50',
      commit_lsn: '1/16B6D00',
      commit_time: '2024-05-01T12:00:00.123456Z',
      xid: 4294967295,
      seq: 0,
      unchanged_toast: [],
    });
    const a = o.after;
    expect(a.i8).toBe('-9223372036854775808');
    expect(a.i2).toBe(-32768);
    expect(a.f4).toBe(3.14);
    expect(a.n30).toBe('12345678901234567890.1234567890');
    expect(a.n).toBe(ROW_A.n);
    expect(a.t).toBe(ROW_A.t);
    expect(Buffer.from(a.by, 'base64')).toEqual(Buffer.from([0, 1, 0, 255, 0]));
    // JSON.parse rounds the big number the same way this literal does.
    // eslint-disable-next-line no-loss-of-precision
    expect(a.j).toEqual({ big: 123456789012345678901234567890, f: 1, arr: [1, 2] });
    // The stored JSON text is spliced in as is: big numbers keep every digit in the payload.
    expect(raw).toContain('"j":{"big": 123456789012345678901234567890, "f": 1.000000000000000000001, "arr": [1, 2]}');
    expect(raw).toContain('"jb":{"a": 9007199254740993,');
    expect(a.d).toBe('-000043-03-15');
    expect(a.ts).toBe('1969-07-20T20:17:40.123456');
    expect(a.tstz).toBe('2262-04-11T23:47:16.854775Z');
    expect(a.ta).toEqual(['a', null, 'c "q"', '']);
    expect(a.ia).toEqual([1, null, -3]);
    expect(a.ba).toEqual(['AAA=', null, '']);
    expect(a.ja).toEqual(['{"a": 1}', null, '[1, 2]']);
    expect(a.i8a).toEqual(['9223372036854775807', null]);
    expect(a.im).toEqual([
      [1, 2],
      [3, null],
    ]);
  });

  test('special floats become strings, -0 stays -0, numeric NaN and dates at infinity are text', () => {
    const raw = text(jsonCodec.encodeMessage(makeChange({ after: ROW_B }), ALL_TYPES));
    const a = JSON.parse(raw).after;
    expect(a.f4).toBe('NaN');
    expect(Object.is(a.f8, -0)).toBe(true);
    expect(a.n30).toBe('NaN');
    expect(a.n).toBe('-Infinity');
    expect(a.d).toBe('infinity');
    expect(a.ts).toBe('-infinity');
    const inf = JSON.parse(text(jsonCodec.encodeMessage(makeChange({ after: { id: 5n, f8: Infinity, f4: -Infinity } }), ALL_TYPES))).after;
    expect(inf).toEqual({ id: '5', f4: '-Infinity', f8: 'Infinity' });
  });

  test('unchanged TOAST columns are absent from after and listed', () => {
    const { t: _t, ...rest } = ROW_A;
    void _t;
    const c = makeChange({ op: 'update', after: { ...rest, t: undefined as unknown as null }, unchangedToast: ['t'] });
    const o = JSON.parse(text(jsonCodec.encodeMessage(c, ALL_TYPES)));
    expect('t' in o.after).toBe(false);
    expect(o.unchanged_toast).toEqual(['t']);
    expect(jsonCodec.decodeMessage(jsonCodec.encodeMessage(c, ALL_TYPES), ALL_TYPES).after).not.toHaveProperty('t');
  });

  test('json text with line breaks stays on one line and keeps its value', () => {
    const stored = '{\n  "a": 12345678901234567890,\r\n  "s": "x"\n}';
    const c = makeChange({ after: { id: 2n, j: stored } });
    const bytes = jsonCodec.encodeFile([c, c], ALL_TYPES);
    expect(text(bytes).split('\n')).toHaveLength(3);
    const back = jsonCodec.decodeFile(bytes, ALL_TYPES)[0]!.after!.j as string;
    expect(back).toBe('{   "a": 12345678901234567890,    "s": "x" }');
    expect(JSON.parse(back)).toEqual(JSON.parse(stored));
  });

  test('output is deterministic', () => {
    const a = jsonCodec.encodeFile(sampleChanges(), ALL_TYPES);
    const b = jsonCodec.encodeFile(sampleChanges(), ALL_TYPES);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  test('a column missing from the table schema is refused, not guessed', () => {
    const c = makeChange({ after: { id: 1n, surprise: 'x' } });
    expect(() => jsonCodec.encodeMessage(c, ALL_TYPES)).toThrow(DuctError);
    expect(() => jsonCodec.encodeMessage(c, ALL_TYPES)).toThrow(/surprise/);
  });

  test('malformed payloads are rejected as invalid input', () => {
    const bad = [
      Buffer.from('{"op":"insert"'),
      Buffer.from('[]'),
      Buffer.from(
        '{"op":"upsert","schema":"s","table":"t","key":{},"before":null,"after":null,"lsn":"0/1","commit_lsn":"0/1","commit_time":"x","xid":1,"seq":0,"unchanged_toast":[]}',
      ),
    ];
    for (const b of bad) {
      try {
        jsonCodec.decodeMessage(b, ALL_TYPES);
        throw new Error('expected a failure');
      } catch (e) {
        expect(e).toBeInstanceOf(DuctError);
        expect((e as DuctError).code).toBe('invalid_argument');
      }
    }
  });
});
