import type { Flow } from '../../src/core/flow';
import { keyJson } from '../../src/destinations/pgstream/events';
import { streamLocationsOf } from '../../src/services/streams/locate';
import { table } from '../support/changes';

describe('pgstream keys and stream locations', () => {
  test('keys in the json value mapping: int8 as text, bytea base64, composite keys in order', () => {
    const t = table('public.t', { a: 'int8', b: 'bytea', c: 'text', d: 'int4' }, { primaryKey: ['a', 'b', 'd'] });
    expect(keyJson({ a: 9223372036854775807n, b: Buffer.from([1, 2]), d: 5 }, t)).toBe('{"a":"9223372036854775807","b":"AQI=","d":5}');
    expect(JSON.parse(keyJson({}, t))).toEqual({});
    expect(keyJson({ x: 1n }, undefined)).toBe('{"x":"1"}');
  });

  test('streams of flows: the stream option or the destination name, one entry per stream and DSN', () => {
    const flow = (id: string, destinations: Flow['destinations']): Flow => ({
      id,
      name: id,
      source: { name: 'pg', type: 'postgres', options: {} },
      destinations,
      wire_format: '',
      parallelism: 1,
      state: 'running',
    });
    const flows = [
      flow('a', [
        { name: 'orders', type: 'pgstream', options: { dsn: 'postgres://h/one' } },
        { name: 'audit-dest', type: 'pgstream', options: { dsn: 'postgres://h/one', stream: 'audit' } },
        { name: 'wh', type: 'duckdb', options: { dsn: 'x.duckdb' } },
        { name: 'broken', type: 'pgstream', options: {} },
      ]),
      flow('b', [{ name: 'o', type: 'pgstream', options: { dsn: 'postgres://h/one', stream: 'orders' } }]),
      flow('c', [{ name: 'orders', type: 'pgstream', options: { dsn: 'postgres://h/two' } }]),
    ];
    expect(streamLocationsOf(flows)).toEqual([
      { stream: 'audit', dsn: 'postgres://h/one', flowIds: ['a'] },
      { stream: 'orders', dsn: 'postgres://h/one', flowIds: ['a', 'b'] },
      { stream: 'orders', dsn: 'postgres://h/two', flowIds: ['c'] },
    ]);
  });
});
