/**
 * The kafka destination against librdkafka's mock broker (via kcat), records consumed back with kcat.
 */
import { DuctError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/log';
import '../../src/destinations';
import type { Destination } from '../../src/destinations/destination';
import { getDestinationKind } from '../../src/destinations/registry';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import type { WireFormat } from '../../src/wire/codec';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';
import { startKafkaBroker, type KafkaBroker } from '../support/peers/kafkaBroker';

let broker: KafkaBroker;
const open: Destination[] = [];
const users = table('public.users', { id: 'int8', name: 'text', bio: 'text' }, { primaryKey: ['id'] });
const orders = table('sales.orders', { id: 'int4', total: 'numeric(10,2)' }, { primaryKey: ['id'] });

beforeAll(async () => {
  broker = await startKafkaBroker();
}, 30_000);
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});
afterAll(async () => {
  await broker.stop();
});

async function destination(
  options: Record<string, string>,
  opts: { type?: string; format?: WireFormat; parallelism?: number; brokers?: string } = {},
): Promise<Destination> {
  const kind = getDestinationKind(opts.type ?? 'kafka', 'destinations[0].type');
  const config = kind.parseConfig({ brokers: opts.brokers ?? broker.bootstrap, ...options }, 'destinations[0].options');
  const d = await kind.create(config, { flowId: 'f', name: 'k', wireFormat: opts.format ?? 'json', parallelism: opts.parallelism ?? 1, log: silentLogger });
  open.push(d);
  await d.open();
  return d;
}

const encoded = (log: ChangeLog) => toEncodedBatch(log.batch(), (f) => getCodec(f));

test('a fixed topic: keys keep each row in one partition in commit order, truncates reach every partition, gzip and acks=1', async () => {
  const d = await destination({ topic: 'fixed_all', compression: 'gzip', acks: '1' }, { format: 'proto', parallelism: 3 });
  const log = new ChangeLog();
  for (let round = 0; round < 4; round++) {
    log.tx((t) => {
      for (let i = 1; i <= 20; i++) {
        if (round === 0) t.insert(users, { id: BigInt(i), name: `r0`, bio: 'x' });
        else t.update(users, { id: BigInt(i), name: `r${round}`, bio: 'x' });
        t.insert(orders, { id: round * 100 + i, total: `${i}.00` });
      }
    });
  }
  log.tx((t) => t.truncate(orders));
  await d.write(encoded(log));
  const records = await broker.readTopic('fixed_all');
  expect(records.length).toBe(4 * 40 + 4); // the truncate once per partition
  const truncates = records.filter((r) => r.headers.op === 'truncate');
  expect(truncates.map((r) => r.partition).sort()).toEqual([0, 1, 2, 3]);
  const partitionsOfRow = new Map<string, Set<number>>();
  const namesOfRow = new Map<string, string[]>();
  for (const r of records.filter((x) => x.headers.table === 'public.users')) {
    const key = r.key!.toString();
    partitionsOfRow.set(key, (partitionsOfRow.get(key) ?? new Set()).add(r.partition));
    namesOfRow.set(key, [...(namesOfRow.get(key) ?? []), getCodec('proto').decodeMessage(r.value!, users).after!.name as string]);
  }
  expect(partitionsOfRow.size).toBe(20);
  for (const p of partitionsOfRow.values()) expect(p.size).toBe(1);
  for (const names of namesOfRow.values()) expect(names).toEqual(['r0', 'r1', 'r2', 'r3']);
  // In every partition the truncate comes after every order record.
  for (const t of truncates) {
    const later = records.filter((r) => r.partition === t.partition && r.offset > t.offset);
    expect(later).toEqual([]);
  }
  expect(records[0]!.headers['content-type']).toBe(getCodec('proto').contentType);
});

test.each(['snappy', 'lz4', 'zstd'])(
  'compression %s: a consumer (kcat) reads every record back, keys, values and headers intact, in commit order',
  async (codec) => {
    const d = await destination({ topic: `codec_${codec}`, compression: codec }, { format: 'json' });
    const log = new ChangeLog();
    // ~120 KB of values per write: snappy spans several xerial blocks, lz4 several frame blocks.
    for (let round = 0; round < 3; round++) {
      log.tx((t) => {
        for (let i = 1; i <= 200; i++) {
          const row = { id: BigInt(i), name: `r${round}`, bio: 'b'.repeat(200) };
          if (round === 0) t.insert(users, row);
          else t.update(users, row);
        }
      });
    }
    log.tx((t) => t.delete(users, { id: 7n }));
    await d.write(encoded(log));
    const records = await broker.readTopic(`codec_${codec}`);
    expect(records.length).toBe(3 * 200 + 2); // the delete and its tombstone
    const namesOfRow = new Map<string, string[]>();
    for (const r of records) {
      const key = r.key!.toString();
      if (r.headers.op === 'tombstone') {
        expect(r.value).toBeNull();
        expect(namesOfRow.get(key)).toEqual(['r0', 'r1', 'r2', 'deleted']);
        continue;
      }
      const envelope = getCodec('json').decodeMessage(r.value!, users);
      expect(r.headers.op).toBe(envelope.op);
      expect(r.headers.lsn).toBe(envelope.lsn);
      const name = envelope.op === 'delete' ? 'deleted' : (envelope.after!.name as string);
      namesOfRow.set(key, [...(namesOfRow.get(key) ?? []), name]);
    }
    expect(namesOfRow.size).toBe(200);
    const rows = [...namesOfRow.values()];
    expect(rows.filter((names) => names.length === 4)).toEqual([['r0', 'r1', 'r2', 'deleted']]);
    for (const names of rows) expect(names.slice(0, 3)).toEqual(['r0', 'r1', 'r2']);
  },
);

test('requests are cut at max_request_bytes; a record bigger than that travels alone; order holds', async () => {
  const d = await destination({ topic: 'chunked', max_request_bytes: '4096' });
  const log = new ChangeLog();
  log.tx((t) => {
    for (let i = 1; i <= 150; i++) t.insert(users, { id: 7n, name: `v${i}`, bio: i === 75 ? 'b'.repeat(50_000) : 'short' });
  });
  await d.write(encoded(log));
  const records = await broker.readTopic('chunked');
  expect(records.map((r) => getCodec('json').decodeMessage(r.value!, users).after!.name)).toEqual(Array.from({ length: 150 }, (_, i) => `v${i + 1}`));
  expect(new Set(records.map((r) => r.partition)).size).toBe(1);
});

test('partitions led by different brokers: each leader gets its own requests, every row keeps its order, acks=0 delivers too', async () => {
  const cluster = await startKafkaBroker(10_000, 3);
  try {
    const d = await destination({ topic: 'multi.{table}', max_request_bytes: '20000' }, { brokers: cluster.bootstrap });
    const log = new ChangeLog();
    for (let round = 0; round < 3; round++) {
      log.tx((t) => {
        for (let i = 1; i <= 100; i++) {
          if (round === 0) t.insert(users, { id: BigInt(i), name: 'r0', bio: null });
          else t.update(users, { id: BigInt(i), name: `r${round}`, bio: null });
          if (round === 0) t.insert(orders, { id: i, total: '1.00' });
        }
      });
    }
    log.tx((t) => t.truncate(orders));
    await d.write(encoded(log));
    const usersRecords = await cluster.readTopic('multi.users');
    expect(usersRecords).toHaveLength(300);
    const names = new Map<string, string[]>();
    for (const r of usersRecords)
      names.set(r.key!.toString(), [...(names.get(r.key!.toString()) ?? []), getCodec('json').decodeMessage(r.value!, users).after!.name as string]);
    expect(names.size).toBe(100);
    for (const n of names.values()) expect(n).toEqual(['r0', 'r1', 'r2']);
    expect(new Set(usersRecords.map((r) => r.partition))).toEqual(new Set([0, 1, 2, 3]));
    const ordersRecords = await cluster.readTopic('multi.orders');
    expect(ordersRecords).toHaveLength(100 + 4);
    for (const t of ordersRecords.filter((r) => r.headers.op === 'truncate')) {
      expect(ordersRecords.filter((r) => r.partition === t.partition && r.offset > t.offset)).toEqual([]);
    }

    const fireAndForget = await destination({ topic: 'multi.acks0', acks: '0' }, { brokers: cluster.bootstrap });
    const more = new ChangeLog();
    more.tx((t) => {
      for (let i = 1; i <= 50; i++) t.insert(users, { id: BigInt(i), name: 'x', bio: null });
    });
    await fireAndForget.write(encoded(more));
    let got = 0;
    for (const deadline = Date.now() + 10_000; got < 50 && Date.now() < deadline;) {
      got = (await cluster.readTopic('multi.acks0')).length;
      if (got < 50) await new Promise((r) => setTimeout(r, 200));
    }
    expect(got).toBe(50);
  } finally {
    for (const d of open.splice(0)) await d.close();
    await cluster.stop();
  }
});

test('unreachable brokers fail open() naming the destination and the brokers option', async () => {
  const kind = getDestinationKind('bufstream', 'destinations[2].type');
  const config = kind.parseConfig({ brokers: '127.0.0.1:1', connect_timeout: '2s' }, 'destinations[2].options');
  const d = await kind.create(config, { flowId: 'f', name: 'bus', wireFormat: 'json', parallelism: 1, log: silentLogger });
  const err = await d.open().catch((e: unknown) => e);
  await d.close();
  expect(err).toBeInstanceOf(DuctError);
  expect((err as DuctError).message).toContain('bufstream destination "bus": cannot connect to brokers 127.0.0.1:1 (destinations[2].options.brokers)');
  expect((err as DuctError).message).toContain('ECONNREFUSED');
  expect((err as DuctError).retry).toBe('backoff');
});

test('a broker that goes away fails the write after the retries, classified for retry', async () => {
  const own = await startKafkaBroker();
  const d = await destination(
    { topic: 'gone', max_retries: '2', backoff_base: '10ms', request_timeout: '2s', connect_timeout: '1s' },
    { brokers: own.bootstrap },
  );
  const log = new ChangeLog();
  log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null }));
  await d.write(encoded(log));
  expect(await own.readTopic('gone')).toHaveLength(1);
  await own.stop();
  log.tx((t) => t.insert(users, { id: 2n, name: 'b', bio: null }));
  const started = Date.now();
  const err = await d.write(encoded(log)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DuctError);
  expect((err as DuctError).message).toContain('kafka destination "k": producing 1 record(s) to gone failed');
  expect((err as DuctError).retry).not.toBe('never');
  expect(Date.now() - started).toBeLessThan(20_000);
});
