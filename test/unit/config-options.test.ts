import { MAX_DURATION_MS, OptionReader, parseDurationMs } from '../../src/config/options';
import '../../src/destinations';
import { getDestinationKind } from '../../src/destinations/registry';
import { DuctError } from '../../src/core/errors';

function err(fn: () => unknown): DuctError {
  try {
    fn();
  } catch (e) {
    return e as DuctError;
  }
  throw new Error('expected an error');
}

describe('OptionReader', () => {
  it('reads typed values with defaults', () => {
    const r = new OptionReader({ batch_size: '500', emit_empty: 'true', batch_timeout: '250ms', tables: 'a.b, c.d,,' }, 'source.options');
    expect(r.int('batch_size', 100)).toBe(500);
    expect(r.int('missing', 100)).toBe(100);
    expect(r.bool('emit_empty', false)).toBe(true);
    expect(r.durationMs('batch_timeout', 1000)).toBe(250);
    expect(r.list('tables')).toEqual(['a.b', 'c.d']);
    r.rejectUnknown();
  });

  it('names the field and the fix on bad values', () => {
    const e = err(() => new OptionReader({ batch_size: 'abc' }, 'source.options').int('batch_size', 100));
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toBe('source.options.batch_size: "abc" is not an integer');
    expect(e.hint).toMatch(/whole number/);
    expect(err(() => new OptionReader({ n: '-1' }, 'p').int('n', 1, { min: 0 })).message).toMatch(/p\.n: -1 is below the minimum/);
    expect(err(() => new OptionReader({ b: 'maybe' }, 'p').bool('b', true)).message).toMatch(/p\.b: "maybe" is not a boolean/);
    expect(err(() => new OptionReader({ m: 'x' }, 'p').oneOf('m', ['add', 'sync'] as const, 'add')).hint).toBe('use one of: add, sync');
  });

  it('rejects a misspelt option', () => {
    const r = new OptionReader({ batch_sise: '10' }, 'source.options');
    r.int('batch_size', 100);
    expect(err(() => r.rejectUnknown()).message).toBe('source.options.batch_sise: is not a known option');
  });

  it('parses durations', () => {
    expect(parseDurationMs('1s')).toBe(1000);
    expect(parseDurationMs('2m')).toBe(120000);
    expect(parseDurationMs('1.5')).toBe(1500);
    expect(parseDurationMs('10 seconds')).toBeUndefined();
  });
});

describe('durations fit Node timers (issue 10, item 16)', () => {
  it('bounds every duration by 2^31-1 ms, even without a caller maximum', () => {
    const r = new OptionReader({ a: '596h', b: '597h', c: `${MAX_DURATION_MS}ms`, d: '1e400' }, 'p');
    expect(r.durationMs('a', 1)).toBe(596 * 3_600_000);
    expect(err(() => r.durationMs('b', 1)).message).toBe('p.b: 597h is too long');
    expect(err(() => r.durationMs('b', 1)).hint).toBe('use at most 2147483647ms (596.5h)');
    expect(r.durationMs('c', 1)).toBe(MAX_DURATION_MS);
    expect(err(() => r.durationMs('d', 1)).message).toMatch(/is not a duration/);
    expect(err(() => new OptionReader({ n: '9'.repeat(30) }, 'p').int('n', 1)).message).toMatch(/p\.n: 9+ is too large/);
  });

  it.each([
    ['kafka', { brokers: 'b:9092', connect_timeout: '720h' }, 'connect_timeout'],
    ['kafka', { brokers: 'b:9092', request_timeout: '2147483648ms' }, 'request_timeout'],
    ['s3', { bucket: 'my-bucket', request_timeout: '1000h' }, 'request_timeout'],
    ['pgstream', { dsn: 'postgres://h/db', trim_interval: '9999h' }, 'trim_interval'],
  ])('%s %j is rejected naming the option', (kind, options, key) => {
    const e = err(() => getDestinationKind(kind, 'type').parseConfig(options, 'destinations[0].options'));
    expect(e.field).toBe(`destinations[0].options.${key}`);
    expect(e.message).toMatch(/is too long/);
  });
});
