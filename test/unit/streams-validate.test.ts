import { DuctError } from '../../src/core/errors';
import { statementChunks, type EventRow } from '../../src/pgstream/eventLog';
import { parseEventId, parseIdList, parseInstant, validateAck, validatePull, validateReplay } from '../../src/services/streams/validate';

const fieldOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as DuctError).field;
  }
  return undefined;
};

describe('stream request validation', () => {
  const pull = { stream: 'orders', group: 'search', maxMessages: 10, visibilitySeconds: 30, consumerId: ' c1 ' };

  test('pull: bounds of max and visibility, names, start', () => {
    expect(validatePull(pull)).toEqual({ ...pull, consumerId: 'c1', start: 'beginning' });
    expect(validatePull({ ...pull, maxMessages: 10_000, visibilitySeconds: 43_200, start: 'now' })).toMatchObject({ maxMessages: 10_000, start: 'now' });
    expect(fieldOf(() => validatePull({ ...pull, maxMessages: 0 }))).toBe('max_messages');
    expect(fieldOf(() => validatePull({ ...pull, maxMessages: 10_001 }))).toBe('max_messages');
    expect(fieldOf(() => validatePull({ ...pull, maxMessages: 1.5 }))).toBe('max_messages');
    expect(fieldOf(() => validatePull({ ...pull, visibilitySeconds: 0 }))).toBe('visibility_timeout_seconds');
    expect(fieldOf(() => validatePull({ ...pull, visibilitySeconds: 43_201 }))).toBe('visibility_timeout_seconds');
    expect(fieldOf(() => validatePull({ ...pull, stream: ' ' }))).toBe('stream');
    expect(fieldOf(() => validatePull({ ...pull, stream: 'has space' }))).toBe('stream');
    expect(fieldOf(() => validatePull({ ...pull, group: 'x'.repeat(129) }))).toBe('consumer_group');
    expect(fieldOf(() => validatePull({ ...pull, start: 'later' as 'now' }))).toBe('start');
    expect(() => validatePull({ ...pull, maxMessages: -2 })).toThrow('max_messages: -2 is below the minimum 1');
  });

  test('ids: positive int64 decimal text, normalized, deduplicated', () => {
    expect(parseEventId(' 007 ')).toBe('7');
    expect(parseEventId('9223372036854775807')).toBe('9223372036854775807');
    for (const bad of ['0', '-1', '1.0', 'x', '', '9223372036854775808', '1e3']) expect(fieldOf(() => parseEventId(bad))).toBe('ids');
    expect(parseIdList('1, 2,3')).toEqual(['1', '2', '3']);
    expect(() => parseIdList('1,,2')).toThrow('ids: "" is not an event id');
    expect(() => parseIdList(' ')).toThrow('ids: is empty');
    expect(validateAck({ stream: 's', group: 'g', ids: ['3', '03', '4'] }).ids).toEqual(['3', '4']);
    expect(fieldOf(() => validateAck({ stream: 's', group: 'g', ids: [] }))).toBe('ids');
    expect(fieldOf(() => validateAck({ stream: 's', group: 'g', ids: Array.from({ length: 10_001 }, (_, i) => String(i + 1)) }))).toBe('ids');
  });

  test('instants: RFC 3339 with a zone or a date; real calendar dates only; microseconds kept', () => {
    expect(parseInstant('2025-01-01T00:00:00Z')).toBe('2025-01-01T00:00:00+00:00');
    expect(parseInstant('2025-01-01')).toBe('2025-01-01T00:00:00+00:00');
    expect(parseInstant('2024-02-29T23:59:59.123456+05:30')).toBe('2024-02-29T23:59:59.123456+05:30');
    expect(parseInstant('2025-06-01 12:30-0700')).toBe('2025-06-01T12:30:00-07:00');
    for (const bad of ['2025-02-29', '2025-13-01', '2025-01-01T24:00:00Z', '2025-01-01T00:00:00', 'yesterday', '2025-01-01T00:00:00.1234567Z', '1/2/2025']) {
      expect({ bad, field: fieldOf(() => parseInstant(bad)) }).toEqual({ bad, field: 'since' });
    }
  });

  test('replay: exactly one of since and from_lsn', () => {
    expect(validateReplay({ stream: 's', group: 'g', since: '2025-01-01' })).toEqual({ stream: 's', group: 'g', from: { since: '2025-01-01T00:00:00+00:00' } });
    expect(validateReplay({ stream: 's', group: 'g', fromLsn: '0/16B6C50' })).toEqual({ stream: 's', group: 'g', from: { fromLsn: '0/16B6C50' } });
    expect(fieldOf(() => validateReplay({ stream: 's', group: 'g' }))).toBe('since');
    expect(fieldOf(() => validateReplay({ stream: 's', group: 'g', since: '2025-01-01', fromLsn: '0/1' }))).toBe('since');
    expect(fieldOf(() => validateReplay({ stream: 's', group: 'g', fromLsn: '16B6C50' }))).toBe('from_lsn');
  });
});

describe('event insert statements', () => {
  const row = (bytes: number): EventRow => ({
    commitLsn: 1n,
    seq: 0,
    lsn: 1n,
    commitTimeMicros: 0n,
    xid: 1,
    tableSchema: 'public',
    tableName: 't',
    op: 'insert',
    keyJson: '{}',
    format: 'json',
    payload: new Uint8Array(bytes),
  });
  const sizes = (rows: EventRow[]) => [...statementChunks(rows)].map((c) => c.length);

  test('bounded by 10,000 rows and 32 MiB of payload; an oversized event goes alone', () => {
    expect(sizes([])).toEqual([]);
    expect(sizes(Array.from({ length: 25_000 }, () => row(10)))).toEqual([10_000, 10_000, 5_000]);
    const mib = 1024 * 1024;
    expect(sizes([row(20 * mib), row(20 * mib), row(1), row(40 * mib), row(1)])).toEqual([1, 2, 1, 1]);
  });
});
