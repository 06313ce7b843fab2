import { groupStartOf, instantOf, streamMessageOf, timestampOf } from '../../src/api/streams/messages';
import { parseInstant } from '../../src/services/streams/validate';

describe('stream message conversions', () => {
  test('service times ↔ google.protobuf.Timestamp, exact to the microsecond', () => {
    expect(timestampOf('2024-01-01T00:00:01.123456Z')).toEqual({ seconds: '1704067201', nanos: 123_456_000 });
    expect(timestampOf('1969-12-31T23:59:59.000001Z')).toEqual({ seconds: '-1', nanos: 1000 });
    expect(timestampOf('')).toBeNull();
    expect(instantOf({ seconds: '1704067201', nanos: 123_456_789 }, 'since')).toBe('2024-01-01T00:00:01.123456Z');
    expect(parseInstant(instantOf({ seconds: '0', nanos: 0 }, 'since'))).toBe('1970-01-01T00:00:00.000000+00:00');
    expect(() => instantOf({ seconds: '1', nanos: 1e9 }, 'since')).toThrow('since: is not a valid timestamp');
    expect(() => instantOf({ seconds: '99999999999999999', nanos: 0 }, 'since')).toThrow('since:');
  });

  test('group start enum, messages with key JSON and int64 as strings', () => {
    expect(groupStartOf('GROUP_START_NOW')).toBe('now');
    expect(groupStartOf('GROUP_START_UNSPECIFIED')).toBe('beginning');
    const m = streamMessageOf({
      id: '42',
      schema: 'public',
      table: 't',
      op: 'update',
      key: { id: '7' },
      lsn: '0/10',
      commitLsn: '0/20',
      seq: 3,
      commitTime: '2024-01-01T00:00:00.000001Z',
      xid: 900,
      format: 'json',
      payload: Buffer.from('{}'),
      avroSchema: '',
      deliveryCount: 2,
      leasedUntil: '2024-01-01T00:00:30.000001Z',
    });
    expect(m).toMatchObject({
      id: '42',
      key_json: '{"id":"7"}',
      commit_lsn: '0/20',
      xid: '900',
      delivery_count: 2,
      commit_time: { seconds: '1704067200', nanos: 1000 },
    });
  });
});
