import { timestampToEpochMicros } from '../../src/core/time';
import { parseDateDays, parseInterval, parseScaledDecimal, parseTimeMicros, parseTimestampMicros, parseTimeTz } from '../../src/destinations/sql/pg-text';
import { valueToText } from '../../src/destinations/sql/text-values';

describe('dates and timestamps', () => {
  test('dates: ISO, signed 6-digit years, PostgreSQL BC, infinity', () => {
    expect(parseDateDays('1970-01-01')).toBe(0);
    expect(parseDateDays('2000-03-01')).toBe(11017);
    expect(parseDateDays('0044-03-15 BC')).toBe(parseDateDays('-000043-03-15'));
    expect(parseDateDays('0001-01-01 BC')).toBe(parseDateDays('0000-01-01'));
    expect(parseDateDays('+010000-01-01')).toBe(parseDateDays('10000-01-01'));
    expect(parseDateDays('infinity')).toBe('infinity');
    expect(parseDateDays('-infinity')).toBe('-infinity');
    expect(parseDateDays('2020-13')).toBeUndefined();
  });

  test('timestamps agree with core/time and honour offsets and BC', () => {
    for (const t of ['1969-12-31T23:59:59.999999', '2262-04-11T23:47:16.854776Z', '-000043-03-15T12:00:00.5', '1900-01-01T00:00:00.000001Z']) {
      expect(parseTimestampMicros(t)).toBe(timestampToEpochMicros(t));
    }
    expect(parseTimestampMicros('2024-01-01 05:30:00+05:30')).toBe(timestampToEpochMicros('2024-01-01T00:00:00Z'));
    expect(parseTimestampMicros('2024-01-01T00:00:00-02')).toBe(timestampToEpochMicros('2024-01-01T02:00:00Z'));
    expect(parseTimestampMicros('0044-03-15 12:00:00.5 BC')).toBe(timestampToEpochMicros('-000043-03-15T12:00:00.5'));
    expect(parseTimestampMicros('infinity')).toBe('infinity');
    expect(parseTimestampMicros('yesterday')).toBeUndefined();
  });

  test('time and timetz', () => {
    expect(parseTimeMicros('00:00:00.000001')).toBe(1n);
    expect(parseTimeMicros('24:00:00')).toBe(86_400_000_000n);
    expect(parseTimeMicros('12:34')).toBeUndefined();
    expect(parseTimeTz('12:34:56.789012+05:30')).toEqual({ micros: 45_296_789_012n, offsetSeconds: 19_800 });
    expect(parseTimeTz('00:00:00-15:59')).toEqual({ micros: 0n, offsetSeconds: -57_540 });
    expect(parseTimeTz('01:02:03+01:02:03')).toEqual({ micros: 3_723_000_000n, offsetSeconds: 3723 });
  });
});

describe('intervals', () => {
  test.each([
    ['1 year 2 mons 3 days 04:05:06.789', { months: 14, days: 3, micros: 14_706_789_000n }],
    ['-1 years -2 mons +3 days -04:05:06', { months: -14, days: 3, micros: -14_706_000_000n }],
    ['-1 days +02:03:00', { months: 0, days: -1, micros: 7_380_000_000n }],
    ['00:00:00', { months: 0, days: 0, micros: 0n }],
    ['-00:00:00.000001', { months: 0, days: 0, micros: -1n }],
    ['100:00:00', { months: 0, days: 0, micros: 360_000_000_000n }],
    ['1 day', { months: 0, days: 1, micros: 0n }],
    ['@ 1 year 2 mons -3 days 4 hours 5 mins 6.789 secs ago', { months: -14, days: 3, micros: -14_706_789_000n }],
    ['P1Y2M3DT4H5M6.789S', { months: 14, days: 3, micros: 14_706_789_000n }],
    ['P-1Y-2M3DT-4H-5M-6S', { months: -14, days: 3, micros: -14_706_000_000n }],
    ['P2W', { months: 0, days: 14, micros: 0n }],
  ])('%s', (text, parts) => {
    expect(parseInterval(text)).toEqual(parts);
  });

  test.each(['', 'P', 'PT', '1.5 years', '1 fortnight', '1-2'])('refuses %j', (text) => {
    expect(parseInterval(text)).toBeUndefined();
  });
});

describe('decimals', () => {
  test('exact scaling, trailing zeros beyond the scale only', () => {
    expect(parseScaledDecimal('12345678901234567890.0123456789', 10)).toBe(123456789012345678900123456789n);
    expect(parseScaledDecimal('-1.5', 2)).toBe(-150n);
    expect(parseScaledDecimal('.5', 1)).toBe(5n);
    expect(parseScaledDecimal('7', 3)).toBe(7000n);
    expect(parseScaledDecimal('1.2300', 2)).toBe(123n);
    expect(parseScaledDecimal('1.235', 2)).toBeUndefined();
    expect(parseScaledDecimal('NaN', 2)).toBeUndefined();
    expect(parseScaledDecimal('1e5', 0)).toBeUndefined();
    expect(parseScaledDecimal('-', 0)).toBeUndefined();
  });
});

describe('text forms', () => {
  test('values loaded as text keep every digit', () => {
    expect(valueToText(null)).toBeNull();
    expect(valueToText(-9223372036854775808n)).toBe('-9223372036854775808');
    expect(valueToText(true)).toBe('true');
    expect(valueToText(Buffer.from([0, 255]))).toBe('\\x00ff');
    expect(valueToText([1n, null, [2, 3], 'a"b', 12345678901234567890n, NaN])).toBe('[1,null,[2,3],"a\\"b",12345678901234567890,"NaN"]');
  });
});
