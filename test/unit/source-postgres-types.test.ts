import { timestampToEpochMicros, dateToEpochDays } from '../../src/core/time';
import { builtinParser, TEXT_PARSER } from '../../src/source/postgres/types/builtins';
import { parseArrayText } from '../../src/source/postgres/types/array';
import { normalizeDate, normalizeTimestamp, normalizeTimestamptz } from '../../src/source/postgres/types/datetime';
import { parseBigInt, parseBool, parseBytea, parseFloat, parseSmallInt, parseText } from '../../src/source/postgres/types/scalars';
import { TypeRegistry } from '../../src/source/postgres/types/resolver';
import type { CatalogQuery } from '../../src/source/postgres/catalogQuery';

const parse = (oid: number, text: string): unknown => builtinParser(oid)!.parse(text);

describe('scalar parsers', () => {
  test('bool', () => {
    expect(parseBool('t')).toBe(true);
    expect(parseBool('f')).toBe(false);
  });

  test('int2/int4/oid as numbers, int8 as exact bigints', () => {
    expect(parseSmallInt('-32768')).toBe(-32768);
    expect(parse(23, '2147483647')).toBe(2147483647);
    expect(parse(26, '4294967295')).toBe(4294967295);
    expect(parseBigInt('9223372036854775807')).toBe(9223372036854775807n);
    expect(parseBigInt('-9223372036854775808')).toBe(-9223372036854775808n);
    expect(parseBigInt('9007199254740993')).toBe(9007199254740993n);
    expect(parseBigInt('999999999999999')).toBe(999999999999999n);
    expect(parseBigInt('-99999999999999')).toBe(-99999999999999n);
    expect(parseBigInt('0')).toBe(0n);
    expect(builtinParser(20)!.kind).toBe('bigint');
  });

  test('floats keep NaN and infinities', () => {
    expect(parseFloat('1.5')).toBe(1.5);
    expect(parseFloat('NaN')).toBeNaN();
    expect(parseFloat('Infinity')).toBe(Infinity);
    expect(parseFloat('-Infinity')).toBe(-Infinity);
    expect(parseFloat('1.2345678901234567e+300')).toBe(1.2345678901234567e300);
    expect(parseFloat('0.1')).toBe(0.1);
  });

  test('numeric stays the exact decimal text', () => {
    const big = '123456789012345678901234567890.123456789012345678901234567890';
    expect(parse(1700, big)).toBe(big);
    expect(parse(1700, 'NaN')).toBe('NaN');
    expect(parse(1700, '-Infinity')).toBe('-Infinity');
    expect(builtinParser(1700)!.kind).toBe('numeric');
  });

  test('bytea hex with zero bytes', () => {
    const b = parseBytea('\\x00ff0041000a') as Buffer;
    expect(Buffer.isBuffer(b)).toBe(true);
    expect([...b]).toEqual([0, 255, 0, 0x41, 0, 10]);
    expect((parseBytea('\\x') as Buffer).length).toBe(0);
    expect([...(parseBytea('a\\000\\\\b') as Buffer)]).toEqual([0x61, 0, 0x5c, 0x62]);
  });

  test('text, uuid, json keep their text; unicode intact', () => {
    expect(parseText('héllo ✓ 𝄞')).toBe('héllo ✓ 𝄞');
    expect(parse(2950, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(parse(3802, '{"a": [1, 2.50, "ü"]}')).toBe('{"a": [1, 2.50, "ü"]}');
    expect(builtinParser(114)!.kind).toBe('json');
    expect(parse(1186, '1 year 2 mons 3 days 04:05:06.789')).toBe('1 year 2 mons 3 days 04:05:06.789');
    expect(parse(1083, '23:59:59.999999')).toBe('23:59:59.999999');
    expect(builtinParser(1266)!.kind).toBe('time');
  });
});

describe('dates and timestamps', () => {
  test('dates', () => {
    expect(normalizeDate('2024-02-29')).toBe('2024-02-29');
    expect(normalizeDate('1969-12-31')).toBe('1969-12-31');
    expect(normalizeDate('0044-03-15 BC')).toBe('-000043-03-15');
    expect(normalizeDate('0001-01-01 BC')).toBe('0000-01-01');
    expect(normalizeDate('4713-11-24 BC')).toBe('-004712-11-24');
    expect(normalizeDate('10000-01-01')).toBe('+010000-01-01');
    expect(normalizeDate('5874897-12-31')).toBe('+5874897-12-31');
    expect(normalizeDate('infinity')).toBe('infinity');
    expect(normalizeDate('-infinity')).toBe('-infinity');
    expect(dateToEpochDays(normalizeDate('0044-03-15 BC'))).toBe(dateToEpochDays('-000043-03-15'));
    expect(() => normalizeDate('15/03/2024')).toThrow();
  });

  test('timestamps before 1970, after 2038, BC, far future, infinity', () => {
    expect(normalizeTimestamp('1969-07-20 20:17:40')).toBe('1969-07-20T20:17:40');
    expect(normalizeTimestamp('1900-01-01 00:00:00.000001')).toBe('1900-01-01T00:00:00.000001');
    expect(normalizeTimestamp('2038-01-19 03:14:08.5')).toBe('2038-01-19T03:14:08.5');
    expect(normalizeTimestamp('0044-03-15 12:00:00 BC')).toBe('-000043-03-15T12:00:00');
    expect(normalizeTimestamp('294276-12-31 23:59:59.999999')).toBe('+294276-12-31T23:59:59.999999');
    expect(normalizeTimestamp('infinity')).toBe('infinity');
    expect(normalizeTimestamp('-infinity')).toBe('-infinity');
    expect(timestampToEpochMicros(normalizeTimestamp('1969-12-31 23:59:59.999999'))).toBe(-1n);
  });

  test('timestamptz in UTC, other offsets converted', () => {
    expect(normalizeTimestamptz('2024-01-02 03:04:05.123456+00')).toBe('2024-01-02T03:04:05.123456Z');
    expect(normalizeTimestamptz('1950-06-01 00:00:00+00')).toBe('1950-06-01T00:00:00Z');
    expect(normalizeTimestamptz('2100-01-01 00:00:00+00')).toBe('2100-01-01T00:00:00Z');
    expect(normalizeTimestamptz('0044-03-15 12:00:00+00 BC')).toBe('-000043-03-15T12:00:00Z');
    expect(normalizeTimestamptz('12000-01-01 00:00:00+00')).toBe('+012000-01-01T00:00:00Z');
    expect(normalizeTimestamptz('2024-01-01 01:30:00.25+05:30')).toBe('2023-12-31T20:00:00.25Z');
    expect(normalizeTimestamptz('2024-01-01 00:00:00-08')).toBe('2024-01-01T08:00:00Z');
    expect(normalizeTimestamptz('1900-01-01 00:00:00+00:09:21')).toBe('1899-12-31T23:50:39Z');
    expect(normalizeTimestamptz('infinity')).toBe('infinity');
    expect(normalizeTimestamptz('-infinity')).toBe('-infinity');
    expect(builtinParser(1184)!.kind).toBe('timestamptz');
    expect(builtinParser(1114)!.kind).toBe('timestamp');
    expect(builtinParser(1082)!.kind).toBe('date');
  });
});

describe('arrays', () => {
  test('flat, empty, NULL elements, quoted elements', () => {
    expect(parse(1007, '{1,2,3}')).toEqual([1, 2, 3]);
    expect(parse(1007, '{}')).toEqual([]);
    expect(parse(1007, '{1,NULL,3}')).toEqual([1, null, 3]);
    expect(parse(1009, '{a,"b c","d,e","x\\"y","back\\\\slash","",NULL,"NULL",null}')).toEqual([
      'a',
      'b c',
      'd,e',
      'x"y',
      'back\\slash',
      '',
      null,
      'NULL',
      null,
    ]);
    expect(parse(1009, '{"{braces}","ü ✓"}')).toEqual(['{braces}', 'ü ✓']);
  });

  test('nested arrays with NULLs and quotes', () => {
    expect(parse(1007, '{{1,2},{3,NULL}}')).toEqual([
      [1, 2],
      [3, null],
    ]);
    expect(parse(1009, '{{"a b",NULL},{"}","\\""}}')).toEqual([
      ['a b', null],
      ['}', '"'],
    ]);
    expect(parse(1016, '{{{9223372036854775807}},{{-1}}}')).toEqual([[[9223372036854775807n]], [[-1n]]]);
  });

  test('non-default bounds, element types parsed by their own parser', () => {
    expect(parse(1007, '[0:1]={7,8}')).toEqual([7, 8]);
    expect(parse(1231, '{1.10,NaN,123456789012345678901234567890}')).toEqual(['1.10', 'NaN', '123456789012345678901234567890']);
    expect(parse(1182, '{2024-01-01,"0044-03-15 BC",infinity}')).toEqual(['2024-01-01', '-000043-03-15', 'infinity']);
    expect(parse(1185, '{"2024-01-02 03:04:05+00",NULL}')).toEqual(['2024-01-02T03:04:05Z', null]);
    const bytes = parse(1001, '{"\\\\x0001",NULL}') as Array<Buffer | null>;
    expect([...bytes[0]!]).toEqual([0, 1]);
    expect(bytes[1]).toBeNull();
    expect(parse(3807, '{"{\\"a\\": 1}","[]"}')).toEqual(['{"a": 1}', '[]']);
    expect(parse(1000, '{t,f,NULL}')).toEqual([true, false, null]);
    expect(parse(1022, '{1.5,NaN,-Infinity}')).toEqual([1.5, NaN, -Infinity]);
    expect(parse(1020, '{(1,1),(0,0);(2,2),(1,1)}')).toEqual(['(1,1),(0,0)', '(2,2),(1,1)']);
    expect(builtinParser(1007)!.elementKind).toBe('int');
    expect(builtinParser(1007)!.kind).toBe('array');
  });

  test('malformed input throws', () => {
    expect(() => parseArrayText('1,2', Number)).toThrow();
    expect(() => parseArrayText('{"abc', String)).toThrow();
  });
});

describe('TypeRegistry', () => {
  const rows = [
    { oid: 50001, typtype: 'd', typcategory: 'N', typelem: 0, typbasetype: 23, typdelim: ',', typlen: 4 }, // domain over int4
    { oid: 50002, typtype: 'e', typcategory: 'E', typelem: 0, typbasetype: 0, typdelim: ',', typlen: 4 }, // enum
    { oid: 50003, typtype: 'b', typcategory: 'A', typelem: 50002, typbasetype: 0, typdelim: ',', typlen: -1 }, // enum[]
    { oid: 50004, typtype: 'b', typcategory: 'S', typelem: 0, typbasetype: 0, typdelim: ',', typlen: -1 }, // citext
    { oid: 50005, typtype: 'b', typcategory: 'A', typelem: 50004, typbasetype: 0, typdelim: ',', typlen: -1 }, // citext[]
    { oid: 50006, typtype: 'd', typcategory: 'A', typelem: 0, typbasetype: 50007, typdelim: ',', typlen: -1 }, // domain over domain[]
    { oid: 50007, typtype: 'b', typcategory: 'A', typelem: 50001, typbasetype: 0, typdelim: ',', typlen: -1 }, // posint[]
  ];
  const queries: unknown[][] = [];
  const fakeQuery = (async (_sql: string, params?: unknown[]) => {
    queries.push(params ?? []);
    const wanted = new Set(params![0] as number[]);
    return rows.filter((r) => wanted.has(r.oid));
  }) as CatalogQuery;

  test('resolve_types=true: domains, enums, arrays of extension types, extension types as text; cached', async () => {
    const reg = new TypeRegistry(true, fakeQuery);
    expect(reg.needsLookup(23)).toBe(false);
    expect(reg.needsLookup(50001)).toBe(true);
    await reg.resolve([50001, 50003, 50005, 50006, 23]);
    expect(reg.parserFor(50001).kind).toBe('int');
    expect(reg.parserFor(50001).parse('42')).toBe(42);
    expect(reg.parserFor(50003).parse('{happy,NULL,"so sad"}')).toEqual(['happy', null, 'so sad']);
    expect(reg.parserFor(50005).parse('{Abc,"D e"}')).toEqual(['Abc', 'D e']);
    expect(reg.parserFor(50005).elementKind).toBe('text');
    expect(reg.parserFor(50006).parse('{1,2}')).toEqual([1, 2]);
    expect(reg.parserFor(50006).elementKind).toBe('int');
    const n = queries.length;
    await reg.resolve([50001, 50003]);
    expect(queries.length).toBe(n);
    expect(reg.parserFor(99999)).toBe(TEXT_PARSER);
  });

  test('resolve_types=false: unknown OIDs stay text, no query', async () => {
    const before = queries.length;
    const reg = new TypeRegistry(false, fakeQuery);
    await reg.resolve([50001, 50003]);
    expect(queries.length).toBe(before);
    expect(reg.parserFor(50001).parse('42')).toBe('42');
    expect(reg.parserFor(50003).parse('{a,b}')).toBe('{a,b}');
    expect(reg.parserFor(20).parse('42')).toBe(42n);
  });
});

describe('parsers that read the receive buffer', () => {
  /** Parses `text` placed mid-buffer (as in a tuple) with the type's bytes parser; checks the buffer is left as it was. */
  const fromBytes = (oid: number, text: string): unknown => {
    const parser = builtinParser(oid)!;
    const body = Buffer.from(text);
    const buf = Buffer.concat([Buffer.from('xx'), body, Buffer.from('yy')]);
    const copy = Buffer.from(buf);
    const v = parser.parseBytes!(buf, 2, 2 + body.length);
    expect(buf.equals(copy)).toBe(true);
    return v;
  };

  test.each([
    [23, ['0', '-0', '7', '-2147483648', '2147483647', ' 1', '+5', '1.0', '', '-']],
    [21, ['-32768', '32767']],
    [26, ['4294967295', '0']],
    [20, ['0', '-0', '1', '-1', '999999999999999', '-99999999999999', '1000000000000000', '9007199254740993', '-9223372036854775808', '9223372036854775807']],
    [16, ['t', 'f', 'true', 'false', 'x']],
    [
      1114,
      ['2024-01-02 03:04:05', '2024-01-02 03:04:05.123456', '1969-12-31 23:59:59.5', '0044-03-15 12:00:00 BC', '10000-01-01 00:00:00', 'infinity', '-infinity'],
    ],
    [
      1184,
      [
        '2024-01-02 03:04:05+00',
        '2024-01-02 03:04:05.000001+00',
        '2024-01-02 03:04:05+05:30',
        '2024-01-02 03:04:05.5-08',
        '0044-03-15 12:00:00+00 BC',
        '10000-01-01 00:00:00+00',
        'infinity',
      ],
    ],
  ])('type %i: the same value as the text parser', (oid, texts) => {
    for (const text of texts) {
      let expected: unknown;
      try {
        expected = parse(oid, text);
      } catch (e) {
        expect(() => fromBytes(oid, text)).toThrow((e as Error).message);
        continue;
      }
      expect(fromBytes(oid, text)).toEqual(expected);
    }
  });

  test('int8 from bytes is a bigint, int4 a number, timestamps flat normalized text', () => {
    expect(fromBytes(20, '12345')).toBe(12345n);
    expect(fromBytes(23, '-12')).toBe(-12);
    expect(fromBytes(1184, '2024-01-02 03:04:05.25+00')).toBe('2024-01-02T03:04:05.25Z');
    expect(fromBytes(1114, '2024-01-02 03:04:05')).toBe('2024-01-02T03:04:05');
  });
});
