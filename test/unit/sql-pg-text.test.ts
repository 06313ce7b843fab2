import { dateToEpochDays, timestampToEpochMicros } from '../../src/core/time';
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

describe('fast paths agree with the general parsers', () => {
  test('timestamps: every fraction length, both separators, with and without Z, at the edges of the fast range', () => {
    const texts: string[] = [];
    for (const date of ['1970-01-01', '1696-03-01', '1695-12-31', '2243-10-16', '2243-10-17', '2024-02-29', '0001-01-01', '9999-12-31']) {
      for (const time of ['00:00:00', '23:59:59', '12:34:56']) {
        for (const frac of ['', '.1', '.12', '.123', '.1234', '.12345', '.123456', '.1234567']) {
          for (const sep of ['T', ' ']) for (const z of ['', 'Z']) texts.push(`${date}${sep}${time}${frac}${z}`);
        }
      }
    }
    for (const t of texts) {
      const general = timestampToEpochMicros(t.replace(' ', 'T').replace(/(\.\d{6})\d+/, '$1'));
      expect([t, parseTimestampMicros(t)]).toEqual([t, general]);
    }
    for (const t of [
      '2024-01-02T03:04:05.',
      '2024-01-02T03:04:5',
      '2024-01-02X03:04:05',
      '2024-01-02T03:04:05+00',
      '2024-1-02T03:04:05',
      '202a-01-02T03:04:05',
    ]) {
      expect([t, parseTimestampMicros(t)]).toEqual([t, t.endsWith('+00') ? timestampToEpochMicros('2024-01-02T03:04:05Z') : undefined]);
    }
  });

  test('dates', () => {
    for (const d of ['1970-01-01', '0000-01-01', '9999-12-31', '2024-02-29']) expect(parseDateDays(d)).toBe(dateToEpochDays(d));
    expect(parseDateDays('2024-0a-01')).toBeUndefined();
  });

  test('decimals: the fast and general parses are the same for every form', () => {
    const cases: Array<[string, number]> = [
      ['0', 2],
      ['-0', 2],
      ['1', 0],
      ['12.34', 2],
      ['-12.34', 2],
      ['12.3', 2],
      ['12.', 2],
      ['.5', 1],
      ['-.5', 1],
      ['+1.5', 1],
      ['999999999999999', 0],
      ['9999999999999.99', 2],
      ['99999999999999.99', 2],
      ['1234567890123456789', 0],
      ['1.25', 1],
      ['1.20', 1],
      ['', 2],
      ['-', 2],
      ['.', 2],
      ['1.2.3', 2],
      ['1e3', 0],
      [' 1', 0],
      ['1 ', 0],
      ['NaN', 2],
      ['1,5', 1],
    ];
    for (const [text, scale] of cases) {
      const m = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(text.trim());
      let expected: bigint | undefined;
      if (m && !(m[2] === '' && (m[3] ?? '') === '')) {
        const frac = m[3] ?? '';
        if (!(frac.length > scale && /[^0]/.test(frac.slice(scale)))) {
          const v = BigInt((m[2] || '0') + frac.slice(0, scale).padEnd(scale, '0'));
          expected = m[1] === '-' ? -v : v;
        }
      }
      expect([text, scale, parseScaledDecimal(text, scale)]).toEqual([text, scale, expected]);
    }
  });
});
