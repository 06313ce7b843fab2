import { parseClickhouseConfig } from '../../src/destinations/clickhouse/config';
import { escapeBytes, escapeText, fieldEncoder, unescapeField } from '../../src/destinations/clickhouse/tsv';
import { clickhouseTypeName, columnType } from '../../src/destinations/clickhouse/types';

const P = 'destinations[0].options';
const DSN = 'http://default:secret@127.0.0.1:8123/analytics';

describe('clickhouse options', () => {
  test('defaults as the usage guide says', () => {
    const c = parseClickhouseConfig({ dsn: DSN }, P);
    expect([c.applyMode, c.metaEngine, c.metaOrderBy, c.writeMode, c.batchMode, c.batchResolution, c.stagingSuffix, c.metaTableEnabled, c.schema]).toEqual([
      'versioned',
      'MergeTree',
      ['flow_id', 'source_schema', 'source_table', 'key_json'],
      'target',
      'target',
      'none',
      '_staging',
      true,
      undefined,
    ]);
  });
  test('database is a synonym of schema', () => {
    expect(parseClickhouseConfig({ dsn: DSN, database: 'wh' }, P).schema).toBe('wh');
    expect(parseClickhouseConfig({ dsn: DSN, schema: 'wh' }, P).schema).toBe('wh');
  });
  test.each([
    [{ dsn: DSN, apply_mode: 'merge' }, /options\.apply_mode/],
    [{ dsn: DSN, meta_order_by: 'flow_id, keyjson' }, /options\.meta_order_by: names "keyjson", which is not a column of the meta table/],
    [{ dsn: DSN, meta_engine: 'Log' }, /options\.meta_engine: "Log" is not a MergeTree-family engine/],
    [{ dsn: 'tcp://h:9000' }, /options\.dsn: has scheme tcp/],
    [{}, /options\.dsn/],
    [{ dsn: DSN, colour: 'x' }, /options\.colour/],
  ])('bad input %j is refused naming the option', (options, message) => {
    let err: Error | undefined;
    try {
      parseClickhouseConfig(options, P);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(message);
    expect(err?.message).not.toContain('secret');
  });
});

describe('clickhouse types and TabSeparated values', () => {
  test('type names', () => {
    expect(clickhouseTypeName({ kind: 'decimal', precision: 76, scale: 10 })).toBe('Decimal(76, 10)');
    expect(clickhouseTypeName({ kind: 'list', element: { kind: 'timestamptz' } })).toBe("Array(Nullable(DateTime64(6, 'UTC')))");
    expect(columnType('Int64', { nullable: true }, true)).toBe('Int64');
    expect(columnType('Int64', { nullable: true }, false)).toBe('Nullable(Int64)');
    expect(columnType('Int64', { nullable: false }, false)).toBe('Int64');
    expect(columnType('Array(Nullable(Int32))', { nullable: true }, false)).toBe('Variant(Array(Nullable(Int32)))');
  });
  test('text and bytes are escaped so that any byte survives, and unescape back', () => {
    const text = "a\tb\nc\\d\re\0f'g";
    expect(escapeText(text)).toBe("a\\tb\\nc\\\\d\\re\\0f'g");
    expect(unescapeField(escapeText(text))).toBe(text);
    expect(escapeBytes(Buffer.from([0, 65, 92, 255, 39]))).toBe("\\x00A\\x5C\\xFF'");
  });
  test('values are exact, out-of-range values refused', () => {
    expect(fieldEncoder({ kind: 'decimal', precision: 12, scale: 2 })('1.5')).toBe('1.50');
    expect(() => fieldEncoder({ kind: 'decimal', precision: 12, scale: 2 })('NaN')).toThrow(/does not fit Decimal/);
    expect(fieldEncoder({ kind: 'double' })(-0)).toBe('-0');
    expect(fieldEncoder({ kind: 'double' })(NaN)).toBe('nan');
    expect(fieldEncoder({ kind: 'timestamptz' })('2024-02-29T23:59:59.999999Z')).toBe('2024-02-29 23:59:59.999999');
    expect(() => fieldEncoder({ kind: 'timestamp' })('infinity')).toThrow(/outside ClickHouse's DateTime64 range/);
    expect(() => fieldEncoder({ kind: 'date' })('1899-12-31')).toThrow(/outside ClickHouse's Date32 range/);
    expect(fieldEncoder({ kind: 'list', element: { kind: 'text' } })(["a'b", null, 't\tx'])).toBe("['a\\'b',NULL,'t\\tx']");
    expect(fieldEncoder({ kind: 'text' })(null)).toBe('\\N');
  });
  test('timestamps in the usual text take the fast path to the same text as the general one', () => {
    const ts = fieldEncoder({ kind: 'timestamptz' });
    const cases: Array<[string, string]> = [
      ['1900-01-01T00:00:00Z', '1900-01-01 00:00:00.000000'],
      ['2299-12-31T23:59:59.999999Z', '2299-12-31 23:59:59.999999'],
      ['2026-12-05T14:02:39.12Z', '2026-12-05 14:02:39.120000'],
      ['2026-12-05T14:02:39', '2026-12-05 14:02:39.000000'],
      ['2024-02-29T23:59:59.999990Z', '2024-02-29 23:59:59.999990'],
    ];
    for (const [v, text] of cases) {
      expect(ts(v)).toBe(text);
      // The general path (epoch microseconds) agrees.
      expect(
        ts(BigInt(Date.parse(v.endsWith('Z') ? v : `${v}Z`)) * 1000n + BigInt((v.split('.')[1] ?? '').replace('Z', '').padEnd(6, '0').slice(3) || '0')),
      ).toBe(text);
    }
    expect(() => ts('1899-12-31T23:59:59Z')).toThrow(/outside ClickHouse's DateTime64 range/);
    expect(() => ts('2300-01-01T00:00:00Z')).toThrow(/outside ClickHouse's DateTime64 range/);
  });
});
