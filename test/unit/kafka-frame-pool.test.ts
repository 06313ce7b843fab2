/**
 * FramePool (src/destinations/kafka/framePool.ts) and its use by ProduceRequestEncoder: frames handed
 * back are reused, never while held, and a reused frame encodes the same bytes as a fresh one.
 */
import { FramePool } from '../../src/destinations/kafka/framePool';
import { ProduceRequestEncoder, type EncodableRecord } from '../../src/destinations/kafka/recordBatch';

test('take/give: reuse of given-back buffers only, best fit, small frames unpooled, bounded', () => {
  const pool = new FramePool(2, 1024);
  const a = pool.take(5000);
  const b = pool.take(5000);
  expect(a.length).toBe(5000);
  expect(a.buffer).not.toBe(b.buffer);
  pool.give(a);
  const c = pool.take(3000);
  expect(c.buffer).toBe(a.buffer); // reused, cut to size
  expect(c.length).toBe(3000);
  const d = pool.take(3000);
  expect(d.buffer).not.toBe(a.buffer); // a is held (as c): not handed out twice
  pool.give(c);
  pool.give(c); // twice: held once
  expect(pool.size).toBe(1);
  pool.give(pool.take(200_000)); // larger than anything held
  pool.give(d);
  expect(pool.size).toBe(2);
  expect(pool.take(150_000).length).toBe(150_000);
  const small = pool.take(100);
  pool.give(small);
  expect(pool.size).toBe(1);
});

test('an encoder writes over a released frame and produces the same bytes as a fresh encoder', async () => {
  const names = ['op', 'idempotency_key'];
  const records = (n: number, tag: string): EncodableRecord[] =>
    Array.from({ length: n }, (_, i) => ({
      key: `{"id":"${i}"}`,
      value: Buffer.from(`{"v":"${tag} ${i} ${'x'.repeat(100)} ü"}`),
      headerValues: ['insert', `${tag}${i}`],
      timestampMs: 1_700_000_000_000 + i,
    }));
  const topics = (tag: string) => [{ topic: 't', partitions: [{ partition: 0, records: records(800, tag) }] }];
  const enc = new ProduceRequestEncoder({ acks: -1, timeoutMs: 1000, compression: 'none', headerNames: names });
  const first = await enc.encode(topics('a'), 20);
  const firstCopy = Buffer.from(first);
  enc.release(first);
  const second = await enc.encode(topics('b'), 20);
  expect(second.buffer).toBe(first.buffer);
  const fresh = await new ProduceRequestEncoder({ acks: -1, timeoutMs: 1000, compression: 'none', headerNames: names }).encode(topics('b'), 20);
  expect(second.subarray(20)).toEqual(fresh.subarray(20));
  // The room in front is the only difference headroom makes.
  const bare = await new ProduceRequestEncoder({ acks: -1, timeoutMs: 1000, compression: 'none', headerNames: names }).encode(topics('a'));
  expect(firstCopy.subarray(20)).toEqual(bare);
});
