/**
 * Consumer groups of the stream service against a real PostgreSQL: leases, acks, redelivery after
 * the visibility timeout, replay, group starts, many parallel consumers of one group, and errors.
 */
import { DuctError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/log';
import { getDestinationKind } from '../../src/destinations';
import type { PgstreamDestination } from '../../src/destinations/pgstream/destination';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import { MemoryFlowStore } from '../../src/state/flows/memoryStore';
import { StreamService, type StreamMessage } from '../../src/services/streams';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let db: TestDatabase;
const closers: Array<() => Promise<void>> = [];
const items = table('public.items', { id: 'int8', v: 'text' }, { primaryKey: ['id'] });

beforeAll(async () => {
  db = await createTestDatabase('pgstream_groups');
});

afterAll(async () => {
  for (const c of closers) await c();
  await db.drop();
});

function service(poolMax = 4): StreamService {
  const s = new StreamService({ dsn: db.dsn, poolMax });
  closers.push(() => s.close());
  return s;
}

/** A stream named `name` holding `n` events (one transaction of `perTx` changes at a time). */
async function streamWith(name: string, n: number, perTx = 1, startLsn = 0x1_0000_0000n): Promise<{ dest: PgstreamDestination; log: ChangeLog }> {
  const kind = getDestinationKind('pgstream', 'destinations[0].type');
  const dest = (await kind.create(kind.parseConfig({ dsn: db.dsn, stream: name }, 'o'), {
    flowId: 'f',
    name,
    wireFormat: 'json',
    parallelism: 1,
    log: silentLogger,
  })) as PgstreamDestination;
  closers.push(() => dest.close());
  await dest.open();
  const log = new ChangeLog('f', startLsn);
  await append(dest, log, 1, n, perTx);
  return { dest, log };
}

async function append(dest: PgstreamDestination, log: ChangeLog, from: number, to: number, perTx = 1): Promise<void> {
  for (let i = from; i <= to; i += perTx) {
    log.tx((t) => {
      for (let k = i; k < Math.min(i + perTx, to + 1); k++) t.insert(items, { id: BigInt(k), v: `v${k}` });
    });
  }
  if (to >= from) await dest.write(toEncodedBatch(log.batch(), (f) => getCodec(f)));
}

const keyIds = (ms: StreamMessage[]) => ms.map((m) => Number(m.key.id));
const pull = (s: StreamService, stream: string, group: string, max: number, vis = 30, consumer = 'c1') =>
  s.pull({ stream, group, maxMessages: max, visibilitySeconds: vis, consumerId: consumer });

describe('pull, ack and redelivery', () => {
  test('leases in stream order, hides leased events, redelivers after the visibility timeout', async () => {
    await streamWith('s1', 10);
    const s = service();
    const a = await pull(s, 's1', 'g', 3, 3);
    expect(a.groupCreated).toBe(true);
    expect(keyIds(a.messages)).toEqual([1, 2, 3]);
    expect(a.messages.every((m) => m.deliveryCount === 1)).toBe(true);
    const b = await pull(s, 's1', 'g', 3, 30, 'c2');
    expect(b.groupCreated).toBe(false);
    expect(keyIds(b.messages)).toEqual([4, 5, 6]);
    await s.ack({ stream: 's1', group: 'g', ids: [a.messages[1]!.id] });
    const leaseEnd = Math.max(...a.messages.map((m) => Date.parse(m.leasedUntil)));
    await new Promise((r) => setTimeout(r, Math.max(0, leaseEnd - Date.now()) + 200));
    const c = await pull(s, 's1', 'g', 10, 30);
    // 1 and 3 ran out of lease unacked: first again, in order, with a second delivery counted.
    expect(keyIds(c.messages)).toEqual([1, 3, 7, 8, 9, 10]);
    expect(c.messages.map((m) => m.deliveryCount)).toEqual([2, 2, 1, 1, 1, 1]);
    const [row] = await db.query<{ consumer_id: string; n: string }>(
      `SELECT consumer_id, count(*) AS n FROM ductstream_stream.deliveries WHERE delivery_count = 2 GROUP BY consumer_id`,
    );
    expect(row).toEqual({ consumer_id: 'c1', n: '2' });
    expect(keyIds((await pull(s, 's1', 'g', 10)).messages)).toEqual([]);
  });

  test('acking twice, an unknown id or an id the group never received is harmless and reported', async () => {
    await streamWith('s2', 4);
    const s = service();
    const { messages } = await pull(s, 's2', 'g', 2);
    const [m1, m2] = messages.map((m) => m.id) as [string, string];
    const first = await s.ack({ stream: 's2', group: 'g', ids: [m1] });
    expect(first).toEqual({ stream: 's2', group: 'g', acked: [m1], alreadyAcked: [], notDelivered: [] });
    const later = String(BigInt(m2) + 1n); // written, but not pulled by this group yet
    const second = await s.ack({ stream: 's2', group: 'g', ids: [m1, m2, m1, '999999', later] });
    expect(second).toEqual({ stream: 's2', group: 'g', acked: [m2], alreadyAcked: [m1], notDelivered: ['999999', later] });
    // Another group's acks do not touch this one.
    await pull(s, 's2', 'other', 4);
    const other = await s.ack({ stream: 's2', group: 'other', ids: [m1] });
    expect(other.acked).toEqual([m1]);
    expect(keyIds((await pull(s, 's2', 'g', 10)).messages)).toEqual([3, 4]);
  });

  test('two groups each see every event, independently', async () => {
    await streamWith('s3', 25, 5);
    const s = service();
    for (const group of ['search', 'billing']) {
      const seen: number[] = [];
      for (;;) {
        const { messages } = await pull(s, 's3', group, 7);
        if (messages.length === 0) break;
        seen.push(...keyIds(messages));
        await s.ack({ stream: 's3', group, ids: messages.map((m) => m.id) });
      }
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    }
    const [info] = await s.list(['s3']);
    expect(info).toMatchObject({ name: 's3', events: 25, format: 'json' });
    expect(info!.groups.map((g) => [g.name, g.pending, g.acked, g.leased])).toEqual([
      ['billing', 0, 25, 0],
      ['search', 0, 25, 0],
    ]);
  });

  test('a group created with start "now" sees only events written after it', async () => {
    const { dest, log } = await streamWith('s4', 5);
    const s = service();
    const first = await s.pull({ stream: 's4', group: 'late', maxMessages: 10, visibilitySeconds: 30, consumerId: 'c', start: 'now' });
    expect(first.messages).toEqual([]);
    await append(dest, log, 6, 8);
    expect(keyIds((await pull(s, 's4', 'late', 10)).messages)).toEqual([6, 7, 8]);
    expect(keyIds((await pull(s, 's4', 'early', 10)).messages)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('replay', () => {
  test('redelivers everything committed since a time or a commit LSN, keeping running leases', async () => {
    const { log } = await streamWith('r1', 10);
    const s = service();
    const all = (await pull(s, 'r1', 'g', 10)).messages;
    await s.ack({ stream: 'r1', group: 'g', ids: all.filter((m) => Number(m.key.id) !== 9).map((m) => m.id) });
    // Event 7 was committed at its commit time; replay from there: 7, 8, 10 reopen, 9 stays leased.
    const since = all[6]!.commitTime;
    expect(since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const r = await s.replay({ stream: 'r1', group: 'g', since });
    expect(r).toEqual({ stream: 'r1', group: 'g', reset: 3, pending: 4 });
    const again = await pull(s, 'r1', 'g', 10);
    expect(keyIds(again.messages)).toEqual([7, 8, 10]);
    expect(again.messages.map((m) => m.deliveryCount)).toEqual([2, 2, 2]);
    await s.ack({ stream: 'r1', group: 'g', ids: [...again.messages.map((m) => m.id), all[8]!.id] });
    // By commit LSN: from event 4's transaction on.
    const lsn = log.all[3]!.commitLsn;
    const byLsn = await s.replay({ stream: 'r1', group: 'g', fromLsn: `${(lsn >> 32n).toString(16)}/${(lsn & 0xffffffffn).toString(16)}` });
    expect(byLsn.reset).toBe(7);
    expect(keyIds((await pull(s, 'r1', 'g', 10)).messages)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    // A time after the last commit reopens nothing.
    expect((await s.replay({ stream: 'r1', group: 'g', since: '2999-01-01T00:00:00Z' })).reset).toBe(0);
  });

  test('a group that started "now" gets older events on replay', async () => {
    await streamWith('r2', 4);
    const s = service();
    expect((await s.pull({ stream: 'r2', group: 'g', maxMessages: 10, visibilitySeconds: 30, consumerId: 'c', start: 'now' })).messages).toEqual([]);
    const r = await s.replay({ stream: 'r2', group: 'g', since: '2000-01-01' });
    expect(r.reset).toBe(4);
    expect(keyIds((await pull(s, 'r2', 'g', 10)).messages)).toEqual([1, 2, 3, 4]);
  });
});

describe('parallel consumers of one group', () => {
  const M = 3000;
  const N = 12;

  test(`${N} consumers × ${M} events: every event acked exactly once, none leased to two consumers at once`, async () => {
    await streamWith('par', M, 50);
    const consumers = Array.from({ length: N }, () => service(2));
    const delivered = new Map<string, string[]>();
    const acked: string[] = [];
    await Promise.all(
      consumers.map(async (s, i) => {
        let empty = 0;
        while (empty < 2) {
          const { messages } = await pull(s, 'par', 'g', 1 + (i % 7) * 3, 60, `c${i}`);
          if (messages.length === 0) {
            empty++;
            continue;
          }
          empty = 0;
          for (const m of messages) delivered.set(m.id, [...(delivered.get(m.id) ?? []), `c${i}`]);
          const r = await s.ack({ stream: 'par', group: 'g', ids: messages.map((m) => m.id) });
          expect(r.alreadyAcked).toEqual([]);
          acked.push(...r.acked);
        }
      }),
    );
    expect(delivered.size).toBe(M);
    expect([...delivered.values()].filter((cs) => cs.length > 1)).toEqual([]);
    expect(acked.length).toBe(M);
    expect(new Set(acked).size).toBe(M);
  });

  test('with short leases and consumers that drop work, a redelivery never overlaps a running lease', async () => {
    await streamWith('flaky', 400, 20, 0x5_0000_0000n);
    const vis = 1;
    const consumers = Array.from({ length: 8 }, () => service(2));
    const leases = new Map<string, number[]>(); // id → leasedUntil (ms) of each delivery
    const ackedBy = new Map<string, number>();
    let rnd = 12345;
    const random = () => (rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const deadline = Date.now() + 40_000;
    await Promise.all(
      consumers.map(async (s, i) => {
        while (ackedBy.size < 400 && Date.now() < deadline) {
          const { messages } = await pull(s, 'flaky', 'g', 10, vis, `c${i}`);
          if (messages.length === 0) {
            await new Promise((r) => setTimeout(r, 100));
            continue;
          }
          for (const m of messages) leases.set(m.id, [...(leases.get(m.id) ?? []), Date.parse(m.leasedUntil)]);
          const keep = messages.filter(() => random() > 0.3);
          if (keep.length === 0) continue;
          const r = await s.ack({ stream: 'flaky', group: 'g', ids: keep.map((m) => m.id) });
          for (const id of r.acked) ackedBy.set(id, (ackedBy.get(id) ?? 0) + 1);
        }
      }),
    );
    expect(ackedBy.size).toBe(400);
    expect([...ackedBy.values()].every((n) => n === 1)).toBe(true);
    let redelivered = 0;
    for (const untils of leases.values()) {
      for (let k = 1; k < untils.length; k++) {
        redelivered++;
        // Each lease starts (until - vis) no earlier than the previous one ended.
        expect(untils[k]! - vis * 1000).toBeGreaterThanOrEqual(untils[k - 1]!);
      }
    }
    expect(redelivered).toBeGreaterThan(0);
  });
});

describe('errors', () => {
  test('bad requests name the field; unknown streams and groups are not_found', async () => {
    await streamWith('e1', 1);
    const s = service();
    const err = async (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e as DuctError,
      );
    const base = { stream: 'e1', group: 'g', maxMessages: 1, visibilitySeconds: 1, consumerId: 'c' };
    expect(await err(s.pull({ ...base, maxMessages: 0 }))).toMatchObject({ code: 'invalid_argument', field: 'max_messages' });
    expect(await err(s.pull({ ...base, maxMessages: -3 }))).toMatchObject({ field: 'max_messages' });
    expect(await err(s.pull({ ...base, visibilitySeconds: 0 }))).toMatchObject({ field: 'visibility_timeout_seconds' });
    expect(await err(s.pull({ ...base, group: '' }))).toMatchObject({ field: 'consumer_group' });
    expect(await err(s.pull({ ...base, stream: 'nope' }))).toMatchObject({ code: 'not_found', field: 'stream' });
    expect(await err(s.ack({ stream: 'e1', group: 'g', ids: ['1', 'x'] }))).toMatchObject({ code: 'invalid_argument', field: 'ids' });
    expect(await err(s.ack({ stream: 'e1', group: 'g', ids: [] }))).toMatchObject({ field: 'ids' });
    expect(await err(s.ack({ stream: 'e1', group: 'nobody', ids: ['1'] }))).toMatchObject({ code: 'not_found', field: 'consumer_group' });
    expect(await err(s.replay({ stream: 'e1', group: 'g', since: '2025-13-01T00:00:00Z' }))).toMatchObject({ code: 'invalid_argument', field: 'since' });
    expect(await err(s.replay({ stream: 'e1', group: 'g', since: '2025-02-30' }))).toMatchObject({ field: 'since' });
    expect(await err(s.replay({ stream: 'e1', group: 'g', since: '2025-01-01T00:00:00' }))).toMatchObject({ field: 'since' });
    expect(await err(s.replay({ stream: 'e1', group: 'g', fromLsn: '16B6C50' }))).toMatchObject({ field: 'from_lsn' });
    expect(await err(s.replay({ stream: 'e1', group: 'g' }))).toMatchObject({ field: 'since' });
    expect(await err(s.replay({ stream: 'e1', group: 'nobody', since: '2025-01-01T00:00:00Z' }))).toMatchObject({ code: 'not_found', field: 'consumer_group' });
  });
});

describe('locating streams through flows', () => {
  test('a stream a flow declares exists before its first event; one written into two databases is ambiguous', async () => {
    const flows = new MemoryFlowStore();
    const flow = (id: string, dsn: string, stream: string) =>
      flows.create({
        id,
        name: id,
        source: { name: 'pg', type: 'postgres', options: {} },
        wire_format: '',
        parallelism: 1,
        state: 'created',
        destinations: [{ name: 'events', type: 'pgstream', options: { dsn, stream } }],
      });
    await flow('f1', db.dsn, 'declared');
    await flow('f2', db.dsn, 'twice');
    await flow('f3', db.dsn.replace(/\/[^/]+$/, '/elsewhere'), 'twice');
    const s = new StreamService({ flows });
    closers.push(() => s.close());
    const r = await s.pull({ stream: 'declared', group: 'early', maxMessages: 5, visibilitySeconds: 5, consumerId: 'c' });
    expect(r).toMatchObject({ groupCreated: true, messages: [] });
    expect((await s.list(['declared']))[0]).toMatchObject({ name: 'declared', events: 0, groups: [{ name: 'early', pending: 0 }] });
    const { dest, log } = await streamWith('declared', 0, 1, 0x7_0000_0000n);
    await append(dest, log, 1, 3);
    expect(keyIds((await s.pull({ stream: 'declared', group: 'early', maxMessages: 5, visibilitySeconds: 5, consumerId: 'c' })).messages)).toEqual([1, 2, 3]);
    const err = await s.pull({ stream: 'twice', group: 'g', maxMessages: 1, visibilitySeconds: 1, consumerId: 'c' }).then(
      () => undefined,
      (e: unknown) => e as DuctError,
    );
    expect(err).toMatchObject({ code: 'failed_precondition', field: 'stream' });
    expect(err!.message).toContain('written into 2 databases (flows f2, f3)');
    const missing = await s.pull({ stream: 'nobody', group: 'g', maxMessages: 1, visibilitySeconds: 1, consumerId: 'c' }).then(
      () => undefined,
      (e: unknown) => e as DuctError,
    );
    expect(missing).toMatchObject({ code: 'not_found', field: 'stream' });
  });
});
