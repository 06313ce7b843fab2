import { batchIdempotencyKey, idempotencyKey, rowKeyText, streamPositionText } from '../../src/destinations/idempotency';
import { deliverInLanes, laneOf } from '../../src/destinations/lanes';
import { ChangeLog, table } from '../support/changes';

const users = table('public.users', { id: 'int8', name: 'text' }, { primaryKey: ['id'] });
const items = table('shop.items', { order_id: 'int8', line: 'int4', blob: 'bytea', note: 'text' }, { primaryKey: ['order_id', 'line'] });
const keyless = table('public.events', { a: 'int4', b: 'text' }, { replicaIdentity: 'full' });

describe('row key text', () => {
  test('is the primary key as a JSON object in key order, with exact values', () => {
    const log = new ChangeLog();
    const [ins, upd, del] = log.tx((t) =>
      t
        .insert(items, { order_id: 9223372036854775807n, line: 2, blob: Buffer.from([1, 2]), note: 'x' })
        .update(users, { id: 5n, name: 'moved' }, { before: { id: 4n } })
        .delete(users, { id: 7n }),
    );
    expect(rowKeyText(ins!, items)).toBe('{"order_id":"9223372036854775807","line":2}');
    expect(rowKeyText(upd!, users)).toBe('{"id":"5"}'); // the new key
    expect(rowKeyText(del!, users)).toBe('{"id":"7"}');
  });

  test('uses replica identity columns without a primary key, and {} for truncate', () => {
    const log = new ChangeLog();
    const [del, trunc] = log.tx((t) => t.delete(keyless, { a: 1, b: 'z' }).truncate(users));
    expect(rowKeyText(del!, keyless)).toBe('{"a":1,"b":"z"}');
    expect(rowKeyText(trunc!, users)).toBe('{}');
  });
});

describe('idempotency key', () => {
  test('is pinned: the same bytes as every earlier release, so keys survive an upgrade', () => {
    const log = new ChangeLog('f', 0x16_b6c5_0000n);
    const [a, b] = log.tx((t) =>
      t.insert(items, { order_id: 9223372036854775807n, line: 2, blob: Buffer.from([1, 2]), note: 'ü' }).delete(items, { order_id: 5n, line: 1 }),
    );
    expect(idempotencyKey(a!, items)).toBe('e1e67f8df668e52292ad95dd6c6d5ece201c67f7e87f4d480f8a4cf0e8fb080e');
    expect(idempotencyKey(b!, items)).toBe('ffe987285344cda54634cf0aafe8ad479a703c092fe5ece1fb78ad4906b9d792');
    expect(idempotencyKey(b!, items, rowKeyText(b!, items), 'shop.items')).toBe(idempotencyKey(b!, items));
    expect(batchIdempotencyKey(a!, b!)).toBe('67dca977b9ea091e47685615f61f8cee3b690f2bfe352613f13dfea9961a993d');
  });

  test('is 64 hex digits, the same on replay, distinct for two changes of one row in one transaction', () => {
    const log = new ChangeLog();
    const [a, b] = log.tx((t) => t.update(users, { id: 1n, name: 'x' }).update(users, { id: 1n, name: 'x' }));
    const k1 = idempotencyKey(a!, users);
    expect(k1).toMatch(/^[0-9a-f]{64}$/);
    expect(idempotencyKey({ ...a! }, users)).toBe(k1);
    expect(idempotencyKey(b!, users)).not.toBe(k1);
    expect(streamPositionText(a!)).toMatch(/^[0-9A-F]+\/[0-9A-F]+\/0$/);
  });

  test('depends on table, key and position, not on the row values or the record LSN', () => {
    const log = new ChangeLog();
    const [a] = log.tx((t) => t.update(users, { id: 1n, name: 'x' }));
    expect(idempotencyKey({ ...a!, after: { id: 1n, name: 'other' } }, users)).toBe(idempotencyKey(a!, users));
    expect(idempotencyKey({ ...a!, lsn: a!.lsn + 8n }, users)).toBe(idempotencyKey(a!, users));
    expect(idempotencyKey({ ...a!, after: { id: 2n, name: 'x' } }, users)).not.toBe(idempotencyKey(a!, users));
    expect(idempotencyKey({ ...a!, table: { schema: 'other', name: 'users' } }, users)).not.toBe(idempotencyKey(a!, users));
    expect(idempotencyKey({ ...a!, commitLsn: a!.commitLsn + 1n }, users)).not.toBe(idempotencyKey(a!, users));
  });

  test('batch keys depend on the table and the first and last positions', () => {
    const log = new ChangeLog();
    const [a, b, c] = log.tx((t) => t.insert(users, { id: 1n, name: 'a' }).insert(users, { id: 2n, name: 'b' }).insert(users, { id: 3n, name: 'c' }));
    expect(batchIdempotencyKey(a!, c!)).toBe(batchIdempotencyKey(a!, c!));
    expect(batchIdempotencyKey(a!, b!)).not.toBe(batchIdempotencyKey(a!, c!));
  });
});

describe('delivery lanes', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('keep per-key order, run lanes concurrently, and make barriers wait for everything before them', async () => {
    const items = Array.from({ length: 60 }, (_, i) => ({ key: `k${i % 6}`, i, barrier: i === 30 }));
    const delivered: number[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    await deliverInLanes(items, { parallelism: 3, laneKey: (x) => x.key, isBarrier: (x) => x.barrier }, async (lane) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      for (const x of lane) {
        await sleep(1);
        delivered.push(x.i);
      }
      concurrent--;
    });
    expect(delivered.sort((a, b) => a - b)).toEqual(items.map((x) => x.i));
    expect(maxConcurrent).toBeGreaterThan(1);
    // per key, in order; and the barrier after every earlier item, before every later one
    const order: number[] = [];
    await deliverInLanes(items, { parallelism: 3, laneKey: (x) => x.key, isBarrier: (x) => x.barrier }, async (lane) => {
      for (const x of lane) {
        await sleep(Math.random() * 2);
        order.push(x.i);
      }
    });
    for (let k = 0; k < 6; k++) {
      const mine = order.filter((i) => i % 6 === k && i !== 30);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    const at = order.indexOf(30);
    expect(order.slice(0, at).every((i) => i < 30)).toBe(true);
    expect(order.slice(at + 1).every((i) => i > 30)).toBe(true);
  });

  test('stop the other lanes after a failure and throw it once all settled', async () => {
    const items = Array.from({ length: 40 }, (_, i) => i);
    const done: number[] = [];
    const err = await deliverInLanes(items, { parallelism: 4, laneKey: (i) => String(i) }, async (lane, stopped) => {
      for (const i of lane) {
        if (stopped()) return;
        await sleep(2);
        if (i === 5) throw new Error('boom');
        done.push(i);
      }
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe('boom');
    expect(done.length).toBeLessThan(39);
  });

  test('lane numbers are stable and in range', () => {
    expect(laneOf('{"id":"1"}', 4)).toBe(laneOf('{"id":"1"}', 4));
    for (let i = 0; i < 100; i++) expect(laneOf(`k${i}`, 7)).toBeLessThan(7);
  });
});
